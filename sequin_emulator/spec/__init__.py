"""The OpenAPI document and what is read from it: operations, schemas, validation. Not HTTP code: the server,
scenario and state files, and the contract kit all use it."""
