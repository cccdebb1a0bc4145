"""Google Contacts and incremental-authorization tests run against the Google API emulator, with
the real OAuth flow of ``tests.integration.mail_accounts`` (its fixtures are reused here)."""

from tests.integration.mail_accounts.conftest import gmail, settings  # noqa: F401  (fixtures)
