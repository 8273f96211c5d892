"""Commands for the data lifecycle: `retention run`, `keys rotate|status`, `backup create|restore`,
`blobs status|move`."""

from __future__ import annotations

import functools
import sys

import click
from flask import Flask

from shared.lifecycle import backup, keyrotation, retention
from shared.platform import blobs
from shared.platform.crypto import current_key_id
from shared.platform.once import run_once


def once(name: str):
    """A scheduled command that runs once across hosts: a second host starting it meanwhile does nothing."""

    def wrap(command):
        @functools.wraps(command)
        def run(*args, **kwargs):
            with run_once(name) as mine:
                if not mine:
                    click.echo(f"{name}: another process is running it now; nothing done here.")
                    return None
                return command(*args, **kwargs)

        return run

    return wrap


def init_app(app: Flask) -> None:
    @app.cli.group("retention")
    def retention_group():
        """Anonymise closed cases after the retention period."""

    @retention_group.command("run")
    @click.option("--dry-run", is_flag=True, help="List what would be done, change nothing.")
    @once("retention run")
    def retention_run(dry_run):
        """Anonymise every closed case past the retention period; list held cases with the reason."""
        decisions = retention.run(dry_run=dry_run)
        years = retention.retention_years()
        verb = "Would anonymise" if dry_run else "Anonymised"
        click.echo(f"Retention period: {years} years after closing (cut-off {retention.cutoff():%Y-%m-%d}).")
        for d in decisions:
            label = verb if d.action == "anonymise" else "Held"
            click.echo(f"  {label:<16} {d.reference:<16} {d.reason}")
        due = sum(d.action == "anonymise" for d in decisions)
        held = len(decisions) - due
        click.echo(f"{verb} {due} case{'s' if due != 1 else ''}; {held} held.")

    @app.cli.group("keys")
    def keys_group():
        """Encryption keys."""

    @keys_group.command("rotate")
    @click.option("--batch", default=500, show_default=True, help="Rows per committed batch.")
    @once("keys rotate")
    def keys_rotate(batch):
        """Re-encrypt every value and document under the newest key (safe to interrupt and run again)."""
        click.echo(f"Re-encrypting under key {current_key_id()}...")
        report = keyrotation.rotate(batch=batch)
        for label, count in {**report.values, **report.files}.items():
            click.echo(f"  {label}: {count}")
        for missing in report.missing_files:
            click.echo(f"  missing file: {missing}", err=True)
        left = keyrotation.old_key_ids_in_use()
        click.echo(f"Done: {report.total} re-encrypted. " + (
            f"Still under old keys: {', '.join(sorted(left))}." if left else "Nothing is left under an old key."
        ))
        if left:
            sys.exit(1)

    @keys_group.command("status")
    def keys_status():
        """Count values and files under each key id."""
        click.echo(f"Newest key: {current_key_id()}")
        for label, counts in keyrotation.key_status().items():
            click.echo(f"  {label}: " + ", ".join(f"{kid}={n}" for kid, n in sorted(counts.items())))

    @app.cli.group("backup")
    def backup_group():
        """Encrypted backups of the database and every stored file."""

    @backup_group.command("create")
    @click.argument("path", type=click.Path(dir_okay=False, writable=True))
    def backup_create(path):
        """Write one encrypted archive of every table and every stored file to PATH."""
        summary = backup.create(path)
        rows = sum(summary.tables.values())
        click.echo(f"Backup written to {path}: {rows} rows in {len(summary.tables)} tables, "
                   f"{summary.files} files of which {summary.documents} documents (schema {summary.revision}).")

    @backup_group.command("restore")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    def backup_restore(path):
        """Restore PATH into this instance, which must be empty and migrated to the same revision."""
        try:
            summary = backup.restore(path)
        except backup.BackupError as exc:
            raise click.ClickException(str(exc)) from exc
        rows = sum(summary.tables.values())
        click.echo(f"Restored {rows} rows and {summary.files} files ({summary.documents} documents). "
                   "Run `flask --app wsgi audit verify`.")

    @app.cli.group("blobs")
    def blobs_group():
        """The store of documents and copies of records (BLOB_BACKEND: filesystem or database)."""

    @blobs_group.command("status")
    def blobs_status():
        """How many files each backend holds, and which one this instance uses."""
        click.echo(f"In use: {app.config['BLOB_BACKEND']}")
        for backend in blobs.BACKENDS:
            click.echo(f"  {backend}: {len(blobs.store_for(backend).names())} files")

    @blobs_group.command("move")
    @click.option("--to", "target", type=click.Choice(blobs.BACKENDS), required=True)
    @click.option("--limit", type=int, default=None, help="Stop after moving this many files (run again to go on).")
    @once("blobs move")
    def blobs_move(target, limit):
        """Move every stored file into the TO backend, each checked by digest before the source copy goes.
        Interrupted, run it again: it carries on. Then set BLOB_BACKEND to the same backend."""
        source = blobs.store_for("filesystem" if target == "database" else "database")
        result = blobs.move(source, blobs.store_for(target), limit=limit)
        left = len(source.names())
        click.echo(f"Moved {result.moved} files to the {target} backend ({result.already} were there already); "
                   f"{left} left in the {source.backend} backend.")
        if app.config["BLOB_BACKEND"] != target and not left:
            click.echo(f"Now set BLOB_BACKEND={target}.")
