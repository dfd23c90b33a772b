"""The HTTP source of the outdoor temperature: GET [priority] http_url every
http_interval_seconds and hand the body to OutdoorTemperature. A source that refuses the
connection, answers with an error or not in time is reported as down, never as a reading."""

from __future__ import annotations

import asyncio

import aiohttp

from callcenter.priority.model import MAX_PAYLOAD
from callcenter.priority.service import OutdoorTemperature, public_url


async def fetch_once(
    session: aiohttp.ClientSession, url: str, wait: float, temperature: OutdoorTemperature
) -> None:
    shown = public_url(url)
    try:
        async with session.get(
            url,
            headers={"Accept": "application/json, text/plain"},
            timeout=aiohttp.ClientTimeout(total=wait),
        ) as response:
            if response.status != 200:
                temperature.failed("http-status", f"{shown} answered HTTP {response.status}")
                return
            body = await response.content.read(MAX_PAYLOAD + 1)
    except TimeoutError:
        temperature.failed("timeout", f"{shown} did not answer within {wait:g} s")
        return
    except aiohttp.ClientError as exc:
        # An aiohttp error may quote the URL it was given: with its query, an API key.
        text = str(exc).replace(url, shown)
        temperature.failed("unreachable", f"{shown}: {type(exc).__name__}: {text}")
        return
    temperature.offer(body)


async def poll_temperature(
    url: str, interval: float, wait: float, temperature: OutdoorTemperature
) -> None:
    """Read the source now and then every `interval` seconds, each answer awaited at most
    `wait` seconds, until cancelled."""
    async with aiohttp.ClientSession() as session:
        while True:
            await fetch_once(session, url, wait, temperature)
            await asyncio.sleep(interval)
