"""inboxcrm.emulator: a local server speaking the wire protocol of the Google APIs inboxcrm uses.

google-api-python-client, google-auth and google-auth-oauthlib run against it unchanged (point
their endpoints at :attr:`RunningEmulator.url`). It imports nothing else from inboxcrm.

    from inboxcrm.emulator import EmulatorConfig, start_emulator

    with start_emulator(EmulatorConfig(auto_consent="rep@example.com", generate=500)) as emu:
        emu.control.deliver("rep@example.com", b"From: a@b.example\\r\\n\\r\\nhello")
        ...  # build('gmail', 'v1', client_options={'api_endpoint': emu.url}, ...)

See docs/emulator.md for the endpoints, the control API and the CLI.
"""

from inboxcrm.emulator.config import EmulatorConfig, RuntimeSettings
from inboxcrm.emulator.control_client import EmulatorControl
from inboxcrm.emulator.server import RunningEmulator, start_emulator

__all__ = [
    "EmulatorConfig",
    "EmulatorControl",
    "RunningEmulator",
    "RuntimeSettings",
    "start_emulator",
]
