"""The contract-test kit: checks that a deployment, emulated or real, honours the API of `openapi/sequin.yaml`.

Run it with `sequin-emulator contract --base-url URL --api-key KEY [--live]`, or with pytest:
`pytest contract_tests --base-url URL --api-key KEY` (or `SEQUIN_BASE_URL` / `SEQUIN_API_KEY`). With no
target it starts an emulator itself.
"""
