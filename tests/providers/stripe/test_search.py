"""Stripe's Search API on a simulated account, through the official `stripe` SDK: exact, substring, numeric and
metadata clauses, negation, AND / OR, paging by `next_page`, and malformed queries refused as Stripe refuses them."""

from __future__ import annotations

import pytest
import stripe


def test_customers_are_found_by_email_name_metadata_and_time(account):
    client = account.stripe
    ada = client.customers.create({"email": "Ada@Analytical.example", "name": "Ada Lovelace",
                                   "metadata": {"plan": "pro"}})
    grace = client.customers.create({"email": "grace@navy.example", "name": "Grace Hopper",
                                     "metadata": {"plan": "free"}})

    def found(query: str, **more) -> list[str]:
        return [c.id for c in client.customers.search({"query": query, **more}).data]

    assert found('email:"ada@analytical.example"') == [ada.id]  # case-insensitive
    assert found('name~"hopp"') == [grace.id]
    assert found('metadata["plan"]:"pro"') == [ada.id]
    assert found('metadata["plan"]:"pro" OR metadata["plan"]:"free"') == [grace.id, ada.id]  # newest first
    assert found('metadata["plan"]:"pro" AND name~"grace"') == []
    assert found(f'created>={ada.created} AND -metadata["plan"]:"free"') == [ada.id]
    assert found('metadata["plan"]:null AND email:"grace@navy.example"') == []
    first = client.customers.search({"query": 'metadata["plan"]:"pro" OR metadata["plan"]:"free"', "limit": 1})
    assert first.object == "search_result" and first.has_more and first.next_page == grace.id
    rest = client.customers.search({"query": 'metadata["plan"]:"pro" OR metadata["plan"]:"free"', "limit": 1,
                                    "page": first.next_page})
    assert [c.id for c in rest.data] == [ada.id] and rest.has_more is False and rest.next_page is None


def test_charges_and_payment_intents_by_amount_status_and_customer(account):
    client = account.stripe
    customer = client.customers.create({"email": "search@example.com"})
    small = client.payment_intents.create({"amount": 700, "currency": "usd", "customer": customer.id,
                                           "payment_method": "pm_card_visa", "confirm": True})
    big = client.payment_intents.create({"amount": 90_000, "currency": "usd", "customer": customer.id,
                                         "payment_method": "pm_card_visa", "confirm": True})
    intents = client.payment_intents.search({"query": f'customer:"{customer.id}" AND amount>1000'}).data
    assert [i.id for i in intents] == [big.id]
    charges = client.charges.search({"query": f'customer:"{customer.id}" AND status:"succeeded" AND amount<1000'})
    assert [c.id for c in charges.data] == [small.latest_charge]
    client.refunds.create({"charge": small.latest_charge})
    refunded = client.charges.search({"query": f'customer:"{customer.id}" AND refunded:"true"'}).data
    assert [c.id for c in refunded] == [small.latest_charge]


@pytest.mark.parametrize("query,words", [
    ('email:"a@example.com" AND name~"abc" OR phone:"1"', "cannot mix AND and OR"),
    ('favourite_colour:"blue"', "unsupported search field"),
    ('email>"a"', "only number fields"),
    ('name~"ab"', "at least 3 characters"),
    ('email:"a@example.com" AND', "ends where a clause"),
    ('email:a@example.com', "not valid at character 1"),
    (" AND ".join(f'name:"n{i}"' for i in range(11)), "at most 10 clauses"),
])
def test_malformed_queries_are_refused_on_the_query_parameter(account, query, words):
    with pytest.raises(stripe.InvalidRequestError) as refused:
        account.stripe.customers.search({"query": query})
    assert refused.value.param == "query" and words in str(refused.value.user_message)
