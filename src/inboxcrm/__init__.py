"""inboxcrm: a self-hostable, multi-tenant CRM built around Gmail and Google Workspace."""

__version__ = "0.1.0"
