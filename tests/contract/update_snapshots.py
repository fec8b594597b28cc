"""Record event contracts for tests/contract.

    .venv/bin/python tests/contract/update_snapshots.py                       # new contracts only
    .venv/bin/python tests/contract/update_snapshots.py --refresh-compatible  # also record compatible edits

By default it writes ``snapshots/<type>.v<version>.json`` for every registered contract that has no
snapshot yet, and a draft ``examples/<type>.v<version>.json`` for every contract without an example.
It never overwrites a published snapshot: those are what the compatibility check compares against.
A draft example is generated from the schema; replace its values with realistic ones before
committing.

``--refresh-compatible`` also rewrites the snapshot of a contract whose schema changed compatibly
(an optional field added, a description edited), so later changes are compared with the latest
published shape. It refuses, and exits 1, for a breaking change: publish a new version instead.
"""

from __future__ import annotations

import argparse
import sys

from contractkit import (
    REPO,
    contracts,
    draft_example,
    dump_json,
    example_path,
    load_json,
    parse_stem,
    snapshot_document,
    snapshot_files,
    snapshot_path,
)
from schema_compat import breaking_changes, normalized

from homecraft_shared.messaging.contracts import CONTRACTS
from homecraft_shared.messaging.envelope import EventEnvelope


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--refresh-compatible", action="store_true",
                        help="also rewrite snapshots of existing contracts whose change is compatible")
    args = parser.parse_args(argv)

    status = 0
    for contract in contracts():
        name = contract.subject
        snapshot = snapshot_path(contract)
        document = snapshot_document(contract)
        if not snapshot.exists():
            dump_json(snapshot, document)
            print(f"wrote   {snapshot.relative_to(REPO)} (new contract {name})")
        else:
            published = load_json(snapshot)
            problems = breaking_changes(published, document)
            if problems:
                status = 1
                print(f"BREAKING {name}: the schema no longer matches the published snapshot:")
                for problem in problems:
                    print(f"    - {problem}")
                print(f"    Publish {contract.type} v{contract.version + 1} beside v{contract.version} instead.")
            elif normalized(published) != normalized(document) or published != document:
                if args.refresh_compatible:
                    dump_json(snapshot, document)
                    print(f"updated {snapshot.relative_to(REPO)} (compatible change to {name})")
                elif normalized(published) != normalized(document):
                    print(f"stale   {snapshot.relative_to(REPO)}: compatible change not recorded; "
                          "run again with --refresh-compatible")
        example = example_path(contract)
        if not example.exists():
            draft = draft_example(contract)
            dump_json(example, draft)
            print(f"wrote   {example.relative_to(REPO)} (DRAFT: edit the values to a realistic event)")
            try:
                contract.parse(EventEnvelope.model_validate(draft).data)
            except ValueError as exc:
                print(f"        the draft does not validate yet; fix it by hand:\n{exc}")
    for path in snapshot_files():
        try:
            CONTRACTS.get(*parse_stem(path))
        except KeyError:
            status = 1
            print(f"ORPHAN  {path.relative_to(REPO)}: published, but no longer registered (see test_snapshots.py)")
    return status


if __name__ == "__main__":
    sys.exit(main())
