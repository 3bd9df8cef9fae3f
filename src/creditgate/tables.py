"""Every domain's tables on one MetaData (for migrations and tests)."""

from creditgate.accounts import tables as _accounts  # noqa: F401
from creditgate.dashboard import tables as _dashboard  # noqa: F401
from creditgate.invoices import tables as _invoices  # noqa: F401
from creditgate.kernel import tables as _kernel  # noqa: F401
from creditgate.kernel.db import metadata
from creditgate.ledger import tables as _ledger  # noqa: F401
from creditgate.limits import tables as _limits  # noqa: F401
from creditgate.notifications import tables as _notifications  # noqa: F401
from creditgate.payments import tables as _payments  # noqa: F401
from creditgate.reporting import tables as _reporting  # noqa: F401
from creditgate.usage import tables as _usage  # noqa: F401
from creditgate.worker import tables as _worker  # noqa: F401

__all__ = ["metadata"]
