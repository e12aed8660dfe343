"""The official `openai` client, pointed at the live portal, lists a key's models.

Clients are closed at the end of each test: an open keep-alive connection would keep a
live-server thread, and its database connection, alive past the test."""

import openai
import pytest

from tests.factories import make_account, make_key, make_priced_model

pytestmark = pytest.mark.django_db(transaction=True)


def _client(live_server, secret: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=secret, max_retries=0)


@pytest.mark.parametrize(
    ("tier", "expected"),
    [
        ("free", {"meta/llama"}),
        ("pro", {"meta/llama", "openai/dall-e-3", "openai/gpt-4o"}),
        ("enterprise", {"meta/llama", "openai/dall-e-3", "openai/gpt-4o", "openai/o-next"}),
    ],
)
def test_openai_client_lists_exactly_the_keys_accessible_models(live_server, tier, expected):
    make_priced_model(slug="meta/llama", provider__slug="meta")
    make_priced_model(
        slug="openai/dall-e-3", provider__slug="openai", modality="image", min_tier="basic"
    )
    make_priced_model(slug="openai/gpt-4o", provider__slug="openai", min_tier="pro")
    make_priced_model(slug="openai/o-next", provider__slug="openai", experimental=True)
    make_priced_model(slug="meta/retired", provider__slug="meta", active=False)
    _, secret = make_key(make_account(tier))

    with _client(live_server, secret) as client:
        models = list(client.models.list())

    assert {m.id for m in models} == expected
    assert all(m.object == "model" and m.owned_by == m.id.split("/")[0] for m in models)


def test_openai_client_with_a_bad_key_gets_authentication_error(live_server):
    with _client(live_server, "yx_nope") as client, pytest.raises(openai.AuthenticationError):
        client.models.list()


def test_openai_client_retrieve_is_gated_by_tier(live_server):
    make_priced_model(slug="openai/gpt-4o", provider__slug="openai", min_tier="pro")
    _, free_secret = make_key(make_account("free"))
    _, pro_secret = make_key(make_account("pro"))

    with _client(live_server, pro_secret) as client:
        assert client.models.retrieve("openai/gpt-4o").id == "openai/gpt-4o"
    with _client(live_server, free_secret) as client:
        with pytest.raises(openai.PermissionDeniedError) as denied:
            client.models.retrieve("openai/gpt-4o")
    assert denied.value.body["code"] == "model_tier_restricted"
