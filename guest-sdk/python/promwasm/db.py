"""MongoDB, scoped to the configured database. Steps may read when their
config says `db: read`; the post-load hook may also write. Filters, updates
and documents are JSON (Extended JSON accepted, e.g. `{"_id": {"$oid": "..."}}`)
and keep their key order (`sort={"roundNumber": 1, "_id": 1}` sorts by round first).

    db.count("todos", {"status": "open"})
    db.find("todos", {}, sort={"_id": -1}, limit=1)
    db.update_many("todos", {"status": "open"}, {"$set": {"status": "done"}})
"""

from wit_world.imports import db as _imp

from . import _json
from .errors import host_call


def find(collection, filter, sort=None, limit=None):
    """Documents of `collection` matching `filter` (a list), ordered by `sort`, at most `limit`."""
    what = f"db find in `{collection}`"
    sort = None if sort is None else _doc(sort, "sort")
    found = host_call(what, _imp.find, collection, _doc(filter, "filter"), sort, limit)
    return _json.loads(found, what)


def count(collection, filter):
    """How many documents of `collection` match `filter`."""
    what = f"db count in `{collection}`"
    return host_call(what, _imp.count, collection, _doc(filter, "filter"))


def update_many(collection, filter, update):
    """Apply `update` (e.g. `{"$set": {...}}`) to every match; how many changed."""
    what = f"db update in `{collection}`"
    filter, update = _doc(filter, "filter"), _doc(update, "update")
    return host_call(what, _imp.update_many, collection, filter, update)


def insert_many(collection, documents):
    """Insert a list of documents; how many were inserted."""
    what = f"db insert into `{collection}`"
    return host_call(what, _imp.insert_many, collection, _doc(list(documents), what))


def delete_many(collection, filter):
    """Delete every match; how many were deleted."""
    what = f"db delete in `{collection}`"
    return host_call(what, _imp.delete_many, collection, _doc(filter, "filter"))


def _doc(value, what):
    return _json.dumps(value, what, sort_keys=False)
