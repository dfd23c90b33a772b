"""The OpenAPI document and the routes cannot drift apart."""

from callcenter.web.routes import openapi_document
from tests.conftest import Hotline


def _routes(hotline: Hotline) -> set[tuple[str, str]]:
    out = set()
    for route in hotline.client.app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if path.startswith("/api/") and route.method != "HEAD":
            out.add((route.method.lower(), path))
    return out


async def test_every_api_route_is_documented_and_nothing_more(hotline: Hotline) -> None:
    documented = {
        (method, path)
        for path, item in openapi_document()["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    assert documented == _routes(hotline)


async def test_openapi_is_served_as_json(hotline: Hotline) -> None:
    response = await hotline.client.get("/api/openapi.json")
    assert response.status == 200
    assert (await response.json())["openapi"].startswith("3.")
