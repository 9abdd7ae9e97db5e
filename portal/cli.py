"""Command-line tasks: `flask audit verify`, `flask seed-demo`."""
import click
from flask import Flask
from flask.cli import AppGroup


def register_cli(app: Flask) -> None:
    audit = AppGroup("audit", help="Audit trail tools.")

    @audit.command("verify")
    def audit_verify():
        """Walk the hash chain and name the first broken event."""
        from portal.audit.services import verify_chain

        report = verify_chain()
        if report.ok:
            click.echo(f"audit chain intact: {report.checked} events")
        else:
            click.echo(f"audit chain BROKEN at event {report.broken_id}: {report.reason} "
                       f"({report.checked} events before it are intact)", err=True)
            raise SystemExit(1)

    app.cli.add_command(audit)

    tasks = AppGroup("tasks", help="Joint-conference tasks.")

    @tasks.command("remind")
    @click.option("--on", "on", default=None, help="The day to remind for (YYYY-MM-DD); today by default.")
    def tasks_remind(on):
        """Remind departments of tasks due within TASK_REMINDER_DAYS (each task once)."""
        from datetime import date

        from portal.conferences.tasks import send_task_reminders

        try:
            day = date.fromisoformat(on) if on else None
        except ValueError:
            click.echo(f"not a date: {on!r} (use YYYY-MM-DD)", err=True)
            raise SystemExit(1)
        click.echo(f"{send_task_reminders(day)} task reminders sent")

    app.cli.add_command(tasks)

    agreements = AppGroup("agreements", help="Mediation agreements.")

    @agreements.command("remind")
    def agreements_remind():
        """Remind the parties of the judicial confirmation window, obligations coming due and pending signatures
        (each reminder once)."""
        from portal.agreements.reminders import run_reminders

        counts = run_reminders()
        click.echo(", ".join(f"{name}: {n}" for name, n in counts.items()) + " reminders sent")

    app.cli.add_command(agreements)

    @app.cli.command("seed-demo")
    @click.option("--if-empty", is_flag=True, help="Do nothing when the database already has users.")
    def seed_demo(if_empty):
        """Load demonstration departments and accounts (refused in production)."""
        from portal.demo import DemoRefused, seed

        try:
            created = seed(if_empty=if_empty)
        except DemoRefused as refused:
            click.echo(str(refused), err=True)
            raise SystemExit(1)
        click.echo("demo data loaded" if created else "database already has users; demo data not loaded")

    @app.cli.command("create-admin")
    @click.option("--name", prompt=True, help="Display name.")
    @click.option("--email", prompt=True, help="Login email.")
    @click.password_option(help="Initial password (must be changed at first log-in).")
    def create_admin(name, email, password):
        """Create an administrator account (the first one on a new installation)."""
        from portal.accounts.models import Role
        from portal.accounts.services import AccountError, create_user

        try:
            create_user(display_name=name, email=email, phone=None, role=Role.ADMIN, department=None,
                        locale="zh_CN", password=password)
        except AccountError as error:
            click.echo(error.message, err=True)
            raise SystemExit(1)
        click.echo(f"administrator {email} created")

    @app.cli.command("demo-logins")
    def demo_logins():
        """Print the demo log-ins."""
        from portal.demo import DEMO_PASSWORD, DEMO_USERS

        click.echo(f"Demo log-ins (password for all: {DEMO_PASSWORD}):")
        for login, name, role, _dept in DEMO_USERS:
            click.echo(f"  {role:<15} {login:<28} {name}")
