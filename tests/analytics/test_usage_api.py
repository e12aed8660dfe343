import csv
import io
from datetime import timedelta
from itertools import combinations

import pytest
from rest_framework.test import APIClient

from billing.models import LedgerEntry
from billing.money import format_credits
from tests.analytics.conftest import hours_ago

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(customer) -> APIClient:
    client = APIClient()
    client.force_authenticate(customer.account.owner)
    return client


@pytest.fixture
def usage(customer):
    """Two models, two keys, three days."""
    from tests.factories import make_key

    _, second = make_key(customer.account, name="batch")
    customer.charge(input_tokens=1000, output_tokens=100, at=hours_ago(1))
    customer.charge("acme/mini", input_tokens=5000, at=hours_ago(1), secret=second)
    customer.charge(input_tokens=300, reasoning_tokens=40, at=hours_ago(30))
    customer.charge("acme/image", units="3", at=hours_ago(55), secret=second)
    customer.charge("acme/mini", output_tokens=70, at=hours_ago(55))


def get(api, **params):
    response = api.get("/api/usage", params)
    assert response.status_code == 200, response.json()
    return response.json()


def test_totals_equal_the_ledgers_usage_charges(api, customer, usage):
    charged = -sum(
        LedgerEntry.objects.filter(account=customer.account, kind="usage").values_list(
            "amount", flat=True
        )
    )
    totals = get(api)["totals"]
    assert totals["cost"] == format_credits(charged) and totals["requests"] == 5
    assert totals["units"] == "3.000000" and totals["reasoning_tokens"] == 40


def test_group_by_day_and_model_sums_each_cell(api, usage):
    body = get(api, group_by="day,model", tz="UTC")
    assert list(body["results"][0])[:2] == ["day", "model"]
    cells = {(r["day"], r["model"]): r["requests"] for r in body["results"]}
    assert sum(cells.values()) == 5 and len({day for day, _ in cells}) >= 2
    assert {m for _, m in cells} == {"acme/chat", "acme/mini", "acme/image"}


GROUPINGS = [
    list(c)
    for n in range(5)
    for c in combinations(["day", "hour", "model", "api_key"], n)
    if not {"day", "hour"} <= set(c)
]


@pytest.mark.parametrize("groups", GROUPINGS, ids=lambda g: ",".join(g) or "none")
def test_every_grouping_adds_up_to_the_totals(api, usage, groups):
    body = get(api, group_by=",".join(groups))
    rows = body["results"]
    assert sum(r["requests"] for r in rows) == body["totals"]["requests"] == 5
    assert sum(int(r["cost"].replace(".", "")) for r in rows) == int(
        body["totals"]["cost"].replace(".", "")
    )
    keys = {k for r in rows for k in r} - set(body["totals"])
    expected = {"api_key", "api_key_id", "api_key_name"} if "api_key" in groups else set()
    assert keys == expected | (set(groups) - {"api_key"})


def test_group_by_api_key_names_each_key(api, customer, usage):
    rows = get(api, group_by="api_key")["results"]
    assert {(r["api_key_name"], r["api_key"][:3]) for r in rows} == {
        ("production", "yx_"),
        ("batch", "yx_"),
    }
    assert customer.key.pk in {r["api_key_id"] for r in rows}


def test_filters_by_model_and_by_key(api, customer, usage):
    assert get(api, model="acme/mini")["totals"]["requests"] == 2
    by_prefix = get(api, api_key=customer.key.display_prefix)["totals"]["requests"]
    assert by_prefix == get(api, api_key=str(customer.key.pk))["totals"]["requests"] == 3
    both = get(api, model="acme/mini,acme/image", api_key=customer.key.pk)
    assert both["totals"]["requests"] == 1


def test_days_are_days_of_the_requested_time_zone(api, customer):
    late = hours_ago(30).replace(hour=23, minute=30)  # 23:30 UTC is 07:30 in Shanghai
    customer.charge(input_tokens=1, at=late)
    utc = get(api, group_by="day", tz="UTC")["results"]
    shanghai = get(api, group_by="day", tz="Asia/Shanghai")["results"]
    assert [r["day"] for r in utc] == [late.date().isoformat()]
    assert [r["day"] for r in shanghai] == [(late.date() + timedelta(days=1)).isoformat()]


@pytest.mark.parametrize("groups", ["", "model,api_key", "day", "hour"])
def test_ranges_with_partial_days_count_exactly_the_hours_inside(api, customer, groups):
    events = [customer.charge(input_tokens=1000 + n, at=hours_ago(n * 7)) for n in range(14)]
    start, end = hours_ago(80).replace(minute=0), hours_ago(9).replace(minute=0)
    inside = [e for e in events if start <= e.occurred_at < end]
    body = get(api, start=start.isoformat(), end=end.isoformat(), group_by=groups)
    assert body["totals"]["requests"] == len(inside) == sum(r["requests"] for r in body["results"])
    assert body["totals"]["input_tokens"] == sum(e.input_tokens for e in inside)


def test_hours_are_shown_in_the_requested_time_zone(api, customer):
    at = hours_ago(5)
    customer.charge(input_tokens=1, at=at)
    row = get(api, group_by="hour", tz="Asia/Kolkata")["results"][0]
    assert row["hour"].endswith("+05:30") and row["hour"][14:16] == "30"


def test_cursor_pages_through_every_row(api, usage):
    everything = get(api, group_by="hour,model,api_key")["results"]
    pages, cursor = [], None
    while True:
        body = get(
            api,
            group_by="hour,model,api_key",
            page_size=2,
            **({"cursor": cursor} if cursor else {}),
        )
        pages += body["results"]
        cursor = body["next"]
        if cursor is None:
            break
    assert pages == everything and len(everything) == 5


def test_a_cursor_of_another_query_is_refused(api, usage):
    cursor = get(api, group_by="hour,model", page_size=1)["next"]
    response = api.get("/api/usage", {"group_by": "model", "cursor": cursor})
    assert response.status_code == 400 and "another query" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"start": "2026-03-01", "end": "2026-02-01"}, "end must be after start"),
        ({"group_by": "day,week"}, "unknown group 'week'"),
        ({"group_by": "day,hour"}, "day or by hour"),
        ({"tz": "Mars/Olympus"}, "not a known time zone"),
        ({"start": "2026-03-01T10:15:00Z"}, "on the hour"),
        ({"start": "yesterday"}, "not a date"),
        ({"start": "2024-01-01", "end": "2026-01-01"}, "at most 366 days"),
        ({"model": "acme/nope"}, "no model named"),
        ({"page_size": "0"}, "page_size"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
def test_bad_input_is_a_validation_error(api, params, says):
    response = api.get("/api/usage", params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error" and says in error["message"]


def test_another_accounts_usage_is_never_visible(api, usage, other):
    other.charge(input_tokens=999_999, at=hours_ago(2))
    assert get(api)["totals"]["requests"] == 5
    assert (
        "999999"
        not in api.get("/api/usage/export.csv", {"group_by": "day,model,api_key"})
        .getvalue()
        .decode()
    )
    response = api.get("/api/usage", {"api_key": str(other.key.pk)})
    assert response.status_code == 400 and "in this account" in response.json()["error"]["message"]


def test_an_api_key_reads_its_accounts_usage(customer, usage):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {customer.secret}")
    response = client.get("/api/usage", {"group_by": "model"})
    assert response.status_code == 200 and response.json()["totals"]["requests"] == 5
    assert response["X-Request-Priority"] == "4"


def test_anonymous_is_refused(db):
    response = APIClient().get("/api/usage")
    assert response.status_code in (401, 403) and "error" in response.json()


def test_csv_streams_the_same_rows_as_the_api(api, usage):
    params = {"group_by": "day,model,api_key", "tz": "Europe/Paris"}
    response = api.get("/api/usage/export.csv", params)
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="yunxin-usage-')
    rows = list(csv.DictReader(io.StringIO(response.getvalue().decode())))
    expected = get(api, **params)["results"]
    assert [(r["day"], r["model"], r["api_key"], r["cost"]) for r in rows] == [
        (r["day"], r["model"], r["api_key"], r["cost"]) for r in expected
    ]


def test_csv_defuses_formula_like_key_names(api, customer):
    customer.key.name = "=HYPERLINK(1)"
    customer.key.save()
    customer.charge(input_tokens=1)
    body = api.get("/api/usage/export.csv", {"group_by": "api_key"}).getvalue().decode()
    assert "'=HYPERLINK(1)" in body


def test_csv_bad_input_is_a_json_error(api):
    response = api.get("/api/usage/export.csv", {"group_by": "week"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "validation_error"


def test_usage_api_runs_a_bounded_number_of_queries(api, customer, django_assert_max_num_queries):
    from tests.factories import make_key

    secrets = [make_key(customer.account, name=f"k{i}")[1] for i in range(4)]
    for n in range(24):
        model = ("acme/chat", "acme/mini", "acme/image")[n % 3]
        usage = {"units": "1"} if model == "acme/image" else {"input_tokens": 10}
        customer.charge(model, at=hours_ago(n * 3), secret=secrets[n % 4], **usage)
    # account, model filter, key filter, rows, totals, rows' models, rows' keys
    with django_assert_max_num_queries(7):
        body = get(
            api,
            group_by="day,model,api_key",
            model="acme/chat,acme/mini",
            api_key=",".join(
                str(k) for k in customer.account.api_keys.values_list("pk", flat=True)
            ),
        )
    assert body["results"]
    with django_assert_max_num_queries(5):
        api.get("/api/usage/export.csv", {"group_by": "hour,model,api_key"}).getvalue()
