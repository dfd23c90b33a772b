"""The composition root: the one place that imports the edges and the domain together.

compose.py builds the configured resources and the web app, in order; `handlers` answers
"what happens when X?" for every domain event. Everything else imports them from here.
"""

from callcenter.app.compose import SERVICES, Services, StartupError, build, problems

__all__ = ["SERVICES", "Services", "StartupError", "build", "problems"]
