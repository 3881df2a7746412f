"""Every table, imported in one place so that Alembic and tests see the whole schema."""

from mitalk.access import models as access_models
from mitalk.accounts import models as accounts_models
from mitalk.core.database import Base
from mitalk.network import models as network_models
from mitalk.notifications import models as notifications_models
from mitalk.rooms import models as rooms_models

__all__ = [
    "Base",
    "access_models",
    "accounts_models",
    "network_models",
    "notifications_models",
    "rooms_models",
]
