import pytest

from tests.accounts.webhook_receiver import Receiver


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def services_db(services, transactional_db):
    """PostgreSQL and Redis (CI fails without them), with commits that really happen."""
