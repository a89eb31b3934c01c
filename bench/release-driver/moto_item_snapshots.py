"""
moto_server whose DynamoDB TransactWriteItems costs what the items cost, for benchmarks at scale.

moto 5.x backs up every table a transaction touches with copy.deepcopy before applying it, once per
item, so a commit's cost grows with the whole table (275 ms a two-item commit at 510 services'
release state) where DynamoDB's does not. This launcher keeps moto's transaction logic and its
all-or-nothing result, but backs up only the items the transaction names: the table "copy" moto
takes is the table itself, and if moto rolls back (a failed condition, a validation error), the
named items are put back as they were. Benchmarks only; the tests run moto as shipped.

Usage: python moto_item_snapshots.py <moto_server arguments>
"""
import copy
import sys

import moto.dynamodb.models as models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table


class _ShallowTables:
    """Stands in for the `copy` module inside moto.dynamodb.models: tables are not copied."""

    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value, memo=None):
        if isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)


models.copy = _ShallowTables()
_transact = DynamoDBBackend.transact_write_items


def _key_of(backend, op_type, op):
    table = backend.get_table(op["TableName"])
    if op_type == "Put":
        attrs = op["Item"]
        key = {table.hash_key_attr: attrs[table.hash_key_attr]}
        if table.range_key_attr is not None:
            key[table.range_key_attr] = attrs[table.range_key_attr]
        return key
    return op["Key"]


def transact_write_items(self, transact_items):
    saved = []
    for item in transact_items:
        try:
            op_type, op = next(iter(item.items()))
            key = _key_of(self, op_type, op)
            current = self.get_item(op["TableName"], key)
            saved.append((op["TableName"], key, copy.deepcopy(current.to_json()["Attributes"]) if current else None))
        except Exception:
            pass  # moto reports the malformed item itself
    try:
        return _transact(self, transact_items)
    except Exception:
        for table_name, key, attrs in saved:
            if attrs is None:
                if self.get_item(table_name, key) is not None:
                    self.delete_item(table_name, key)
            else:
                self.put_item(table_name, attrs)
        raise


DynamoDBBackend.transact_write_items = transact_write_items

if __name__ == "__main__":
    from moto.server import main

    sys.exit(main(sys.argv[1:]))
