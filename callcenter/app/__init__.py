"""The composition root: the one place that imports the edges and the domain together.

`handlers` (handlers.py) answers "what happens when X?" for every domain event; `build`
(compose.py) makes the services and starts the configured resources in order
(resources.py, pbx.py, background.py); routes.py gives each capability its routes and
health.py says how the service is. Everything else imports them from here (`handlers` is
not re-exported: the name would hide its module, callcenter.app.handlers).
"""

from callcenter.app.compose import build
from callcenter.app.health import components, problems
from callcenter.app.routes import add_metrics, add_routes
from callcenter.app.services import SERVICES, Services
from callcenter.errors import StartupError

__all__ = [
    "SERVICES",
    "Services",
    "StartupError",
    "add_metrics",
    "add_routes",
    "build",
    "components",
    "problems",
]
