"""Address-book use cases: load the book (a broken file stops start-up; overlapping or
unused rules are reported, not fatal) and route an address."""

from __future__ import annotations

import logging
from pathlib import Path

from callcenter.stations import model, store
from callcenter.stations.model import AddressBook, Problem, Routing

log = logging.getLogger(__name__)


def load(path: Path) -> tuple[AddressBook, list[Problem]]:
    """The book in `path` and what `callcenter stations check` would report about it.
    store.AddressBookError when the file cannot be used at all."""
    book = store.read_book(path)
    return book, model.check(book)


def load_for_service(path: Path, required: bool = True) -> AddressBook:
    """The book the service routes with. Problems are logged, not fatal: the hotline keeps
    taking calls, and an address the problem touches is flagged on its ticket (ambiguous),
    never routed by guess. With no file where the default points (`required` false: the
    service started outside the repository with no config), the book is empty: every
    address is flagged unmatched, and the service still starts."""
    if not required and not path.exists():
        log.warning("no address book at %s: every address will be flagged unmatched; "
                    "set tickets.stations_file", path)  # fmt: skip
        return AddressBook([], [])
    book, problems = load(path)
    for problem in problems:
        log.warning("address book %s: %s: %s", path, problem.kind, problem.message)
    log.info(
        "address book %s: %d stations, %d rules, %d problems",
        path,
        len(book.stations),
        len(book.rules),
        len(problems),
    )
    return book


def route(book: AddressBook, text: str) -> Routing:
    return model.route(book, text)
