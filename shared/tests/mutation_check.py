"""The mutation check: named, deliberate breakages of the messaging code, each of which at least one
delivery proof must catch (decision 0006).

Each mutation is a literal edit of one source file. It is applied to a scratch copy of
``homecraft_shared`` that is put first on ``PYTHONPATH`` (subprocesses the proofs start inherit it),
and the mutation's proofs run with ``pytest -x``; the mutation is *killed* when a proof fails. An edit
whose text is no longer in the source fails loudly, so the list is kept in step with the code.

Run by ``test_mutations.py`` (one test per mutation, part of the shared suite and CI), or by hand:

    .venv/bin/python shared/tests/mutation_check.py [NAME ...]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

TESTS = Path(__file__).resolve().parent
PACKAGE = TESTS.parent / "src" / "homecraft_shared"
POSTGRES_ENV = "HOMECRAFT_TEST_POSTGRES_URL"


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str  # relative to homecraft_shared/
    old: str
    new: str
    # The proofs that should catch it, the fastest and most direct first (pytest stops at the first failure).
    proofs: tuple[str, ...]
    # Where it runs: every mutation on SQLite; on PostgreSQL only those whose proof depends on the backend.
    postgres: bool = False
    # Further (old, new) edits of the same file, for a breakage that spans several places.
    more: tuple[tuple[str, str], ...] = ()


CONSUMER = "messaging/consumer.py"
OUTBOX = "messaging/outbox.py"
CRASH = "test_consumer_crash.py::test_consumer_killed_applies_every_event_exactly_once"

MUTATIONS: tuple[Mutation, ...] = (
    Mutation(
        "ack-before-commit-in-batch", CONSUMER,
        "                committing = True\n                await session.commit()\n",
        "                for message in messages:\n                    await self._ack(message)\n"
        "                committing = True\n                await session.commit()\n",
        (f"{CRASH}[at-batch-commit]",), postgres=True,
    ),
    Mutation(
        "ack-before-commit-one-by-one", CONSUMER,
        "                    add_inbox_row(session, self.registry, envelope)\n                    await session.commit()\n",
        "                    add_inbox_row(session, self.registry, envelope)\n                    await self._ack(message)\n"
        "                    await session.commit()\n",
        (f"{CRASH}[at-one-by-one-commit]",), postgres=True,
    ),
    Mutation(
        "fallback-acks-the-events-before-the-failing-one-unapplied", CONSUMER,
        "                    else:\n                        await self._handle_one(message)\n",
        "                    elif index < failure.index:\n                        await self._ack(message)\n"
        "                    else:\n                        await self._handle_one(message)\n",
        ("test_dead_letters.py::test_poison_event_is_dead_lettered_then_replayed_exactly_once[poison-mid-batch]",),
    ),
    Mutation(
        "any-integrity-error-taken-for-a-duplicate", CONSUMER,
        "        if not handler_failed and isinstance(exc, IntegrityError) and await self._already_processed(envelope):\n",
        "        if isinstance(exc, IntegrityError):\n",
        ("test_dead_letters.py::test_a_handler_raising_an_integrity_error_is_dead_lettered_not_taken_for_a_duplicate",),
        postgres=True,
    ),
    Mutation(
        "replay-skips-the-inbox", CONSUMER,
        "                applied = await apply_event(session, registry, envelope)\n",
        "                applied = await run_handler(session, registry, envelope)\n",
        ("test_dead_letters.py::test_replaying_a_dead_letter_whose_event_was_already_applied_changes_nothing",),
    ),
    Mutation(
        "no-inbox-check", CONSUMER,
        "    return await session.get(InboxEvent, (consumer, event_id)) is not None\n",
        "    return False\n",
        (f"{CRASH}[after-batch-commit]",
         "test_consumer_failures.py::test_the_batch_inbox_check_skips_applied_events_and_copies_within_the_batch"),
        postgres=True,
        more=((  # the batch's inbox check (one statement for the batch, decision 0307)
            "    return set(rows.scalars())\n",
            "    return set()\n",
        ),),
    ),
    Mutation(
        "batch-inbox-check-misses-copies-within-the-batch", CONSUMER,
        "                    done.add(envelope.id)  # a second copy later in this batch is a duplicate\n",
        "",
        ("test_consumer_failures.py::test_the_batch_inbox_check_skips_applied_events_and_copies_within_the_batch",),
    ),
    Mutation(  # decision 0309
        "batch-not-split-at-the-write-hold-bound", CONSUMER,
        "                    if write_lock_held() > self.settings.max_write_hold_seconds:\n",
        "                    if False:\n",
        ("test_write_lock_bound.py::test_a_batch_over_the_write_hold_bound_commits_early_and_lets_another_writer_in",),
    ),
    Mutation(  # decision 0309
        "fallback-handles-the-early-committed-part-again", CONSUMER,
        "                if index < failure.start:  # committed and acked in an earlier transaction of the batch\n",
        "                if False:\n",
        ("test_write_lock_bound.py::test_a_handler_failing_after_an_early_commit_runs_the_rest_one_by_one_and_applies_"
         "everything_once",),
    ),
    Mutation(
        "no-inbox-row", CONSUMER,
        "    session.add(\n        InboxEvent(\n",
        "    return\n    session.add(\n        InboxEvent(\n",
        (f"{CRASH}[after-batch-commit]",),
        more=((  # the batch's inbox rows (one INSERT for the batch, decision 0307)
            "    if envelopes:\n        now = utcnow()\n",
            "    if False:\n        now = utcnow()\n",
        ),),
    ),
    Mutation(
        "attempt-limit-before-the-inbox", CONSUMER,
        "                if await already_applied(session, self.registry.consumer_name, envelope.id):\n"
        "                    outcome = \"duplicate\"\n"
        "                elif attempt > self.settings.max_attempts:\n",
        "                if attempt > self.settings.max_attempts:\n"
        "                    outcome = \"exhausted\"\n"
        "                elif await already_applied(session, self.registry.consumer_name, envelope.id):\n"
        "                    outcome = \"duplicate\"\n"
        "                elif attempt > self.settings.max_attempts:\n",
        ("test_consumer_failures.py::test_an_applied_event_delivered_past_its_attempts_is_acked_not_dead_lettered",),
        more=((  # the batch path too: past its attempts, the batch goes one by one before the inbox is read
            "                    if envelope.id in done:\n"
            "                        duplicates += 1\n",
            "                    if self._attempt(message, envelope.id) > self.settings.max_attempts:\n"
            "                        raise _NeedsOneByOne()\n"
            "                    if envelope.id in done:\n"
            "                        duplicates += 1\n",
        ),),
    ),
    Mutation(
        "commit-failure-blamed-on-the-handler", CONSUMER,
        "        if is_transient_database_error(exc):\n",
        "        if False:\n",
        ("test_consumer_failures.py::test_commit_failures_are_retried_without_using_up_the_events_attempts",),
    ),
    Mutation(
        "no-keep-alive-for-slow-batches", CONSUMER,
        "                            await message.in_progress()\n",
        "                            pass\n",
        ("test_consumer_failures.py::test_a_slow_batch_is_kept_alive_and_not_redelivered_while_it_runs",),
    ),
    Mutation(
        "consumer-creates-the-producers-stream", CONSUMER,
        "                await self._wait_for_stream(stream)\n",
        "                from homecraft_shared.messaging.jetstream import ensure_stream\n"
        "                await ensure_stream(self._js, consumed.producer)\n",
        ("test_consumer_failures.py::test_a_consumer_waits_for_the_producers_stream_and_never_creates_it",),
    ),
    Mutation(
        "random-dead-letter-id-for-unreadable-messages", CONSUMER,
        "    metadata = message.metadata\n    return uuid.uuid5(",
        "    return uuid.uuid4()\n    metadata = message.metadata\n    return uuid.uuid5(",
        ("test_consumer_failures.py::test_an_unreadable_message_delivered_twice_has_one_dead_letter",),
    ),
    Mutation(
        "unhandled-event-not-logged", CONSUMER,
        "    if handler is None:\n        logger.warning(",
        "    if handler is None:\n        return False\n        logger.warning(",
        ("test_consumer_failures.py::test_an_event_without_a_handler_is_logged_when_recorded_as_handled",),
    ),
    Mutation(
        "no-nats-msg-id", OUTBOX,
        '            headers={"Nats-Msg-Id": str(row.event_id)},\n',
        "            headers=None,\n",
        ("test_relay_crash.py", "test_nats_restart.py"),
    ),
    Mutation(
        "mark-published-before-publishing", OUTBOX,
        "            outcomes = await self._publish_batch(rows)\n",
        "            await self._mark_published(session, rows)\n            outcomes = await self._publish_batch(rows)\n",
        ("test_relay.py::test_failed_publish_is_recorded_and_retried_under_the_same_id", "test_nats_restart.py"),
    ),
    Mutation(
        "refused-event-blocks-the-relay", OUTBOX,
        "                    if isinstance(outcome, ROW_SPECIFIC_ERRORS):\n",
        "                    if False:\n",
        ("test_relay.py::test_an_event_jetstream_refuses_does_not_hold_up_later_events",),
    ),
    Mutation(  # decision 0323
        "eager-publish-without-nats-msg-id", OUTBOX,
        '                                                      headers={"Nats-Msg-Id": str(row["event_id"])})\n',
        "                                                      headers=None)\n",
        ("test_eager_publish.py::test_an_event_both_publish_is_stored_once",),
    ),
    Mutation(  # decision 0323
        "eager-publish-of-a-rolled-back-savepoint", OUTBOX,
        "        session.info[_COMMITTING_ROWS] = _SAVEPOINT_ROLLED_BACK\n",
        "        pass\n",
        ("test_eager_publish.py::test_a_rolled_back_savepoint_leaves_its_transaction_to_the_relay",),
    ),
    Mutation(
        "retention-prunes-the-inbox-row-of-a-dead-letter", "messaging/retention.py",
        "InboxEvent.processed_at < now - dt.timedelta(days=policy.inbox_days), ~waiting_letter",
        "InboxEvent.processed_at < now - dt.timedelta(days=policy.inbox_days)",
        ("test_retention.py::test_an_inbox_row_is_kept_while_its_event_has_a_dead_letter_awaiting_replay",),
    ),
    Mutation(
        "sqlite-synchronous-normal", "db.py",
        'cursor.execute("PRAGMA synchronous=FULL")',
        'cursor.execute("PRAGMA synchronous=NORMAL")',
        ("test_consumer_failures.py::test_sqlite_commits_are_fsynced_before_they_count",),
    ),
)


@dataclass(frozen=True)
class Outcome:
    mutation: Mutation
    killed: bool
    seconds: float
    output: str


class MutationNoLongerApplies(Exception):
    pass


def mutated_copy(mutation: Mutation, scratch: Path) -> Path:
    """A copy of homecraft_shared with the mutation applied; returns the folder to put on PYTHONPATH."""
    root = scratch / "src"
    target = root / "homecraft_shared"
    # Bytecode caches come along (copytree keeps modification times); the edited file gets a new
    # mtime, so Python recompiles it and only it.
    shutil.copytree(PACKAGE, target)
    source = target / mutation.file
    text = source.read_text()
    for old, new in ((mutation.old, mutation.new), *mutation.more):
        if text.count(old) != 1:
            raise MutationNoLongerApplies(
                f"mutation {mutation.name}: its text occurs {text.count(old)} times in {mutation.file} "
                "(expected once); update the mutation to the current code"
            )
        text = text.replace(old, new)
    source.write_text(text)
    return root


def run_mutation(mutation: Mutation, scratch: Path, *, timeout: float = 300.0) -> Outcome:
    root = mutated_copy(mutation, scratch)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    # The mutant, not the installed package, must be what the proofs import.
    where = subprocess.run([sys.executable, "-c", "import homecraft_shared; print(homecraft_shared.__file__)"],
                           env=env, capture_output=True, text=True, check=True).stdout.strip()
    if not where.startswith(str(root)):
        raise RuntimeError(f"the proofs would import {where}, not the mutated copy under {root}")
    started = time.monotonic()
    process = subprocess.run(
        [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--no-header", "-p", "no:randomly",
         f"--basetemp={scratch / 'pytest'}", *mutation.proofs],
        cwd=TESTS, env=env, capture_output=True, text=True, timeout=timeout,
    )
    seconds = time.monotonic() - started
    output = process.stdout[-3000:] + process.stderr[-2000:]
    if process.returncode not in (0, 1):  # 2-5: interrupted, internal error, usage error, nothing collected
        raise RuntimeError(f"mutation {mutation.name}: pytest exited with {process.returncode}:\n{output}")
    return Outcome(mutation, killed=process.returncode == 1, seconds=seconds, output=output)


def selected(names: list[str]) -> list[Mutation]:
    if not names:
        return list(MUTATIONS)
    known = {m.name: m for m in MUTATIONS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown mutations: {', '.join(unknown)}")
    return [known[n] for n in names]


def main(names: list[str]) -> int:
    postgres = bool(os.environ.get(POSTGRES_ENV))
    survivors = 0
    for mutation in selected(names):
        if postgres and not mutation.postgres:
            continue
        with tempfile.TemporaryDirectory(prefix="mutant-") as scratch:
            outcome = run_mutation(mutation, Path(scratch))
        survivors += not outcome.killed
        print(f"{'killed  ' if outcome.killed else 'SURVIVED'} {mutation.name:<58} {outcome.seconds:6.1f}s", flush=True)
        if not outcome.killed:
            print(outcome.output)
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
