"""``keystead totp``: enrol an authenticator app as a second factor, confirm it, turn it off.

``enroll`` shows the ``otpauth://`` URI as a QR code in the terminal (and the secret, to type
in by hand); ``confirm`` takes a first code and prints the recovery codes, once. Codes come
from a no-echo prompt, stdin or a file. Exit codes are those of ``keystead.cli.client``.
"""

from __future__ import annotations

import io as text_io
from typing import Annotated, Final

import qrcode  # type: ignore[import-untyped]  # qrcode ships no type information
import typer
from rich.text import Text

from keystead.cli import client as cli
from keystead.cli import prompts, render

app = typer.Typer(
    help="Your TOTP second factor: enroll an authenticator app, confirm it, disable it.",
    no_args_is_help=True,
)

CodeFileOption = Annotated[
    str | None,
    typer.Option("--code-file", help="Read the code from the first line of FILE (- for stdin)."),
]
ENROLL_NEXT: Final = (
    "Scan the QR code (or type the secret) into your authenticator app, then run "
    "`keystead totp confirm` with the code it shows."
)
RECOVERY_WARNING: Final = (
    "These recovery codes are shown once and never again. Each opens one login without "
    "the app (`keystead login --recovery-code`): keep them offline."
)


def qr_text(data: str) -> str:
    """``data`` as a QR code drawn with block characters, dark on a light terminal or not."""
    code = qrcode.QRCode(border=2)
    code.add_data(data)
    out = text_io.StringIO()
    code.print_ascii(out=out, invert=True)
    return out.getvalue()


@app.command()
def enroll(
    no_qr: Annotated[bool, typer.Option("--no-qr", help="Do not draw the QR code.")] = False,
    password_file: prompts.PasswordFileOption = None,
) -> None:
    """Start enrolment (your password is asked again): show the secret as a QR code."""
    password = prompts.read_secret("Password", file=password_file)
    with cli.api_errors(), cli.make_client() as client:
        enrollment = client.auth.totp_enroll(password)
    uri = enrollment.otpauth_uri.get_secret_value()
    if not no_qr:
        print(qr_text(uri), end="")
    print(f"URI: {uri}")
    print(f"Secret: {enrollment.secret.get_secret_value()}")
    render.console().print(Text(ENROLL_NEXT, style="bold"))


@app.command()
def confirm(code_file: CodeFileOption = None) -> None:
    """Turn TOTP on with a first code from the app; print the recovery codes, once."""
    code = prompts.read_code("TOTP code", file=code_file)
    with cli.api_errors(), cli.make_client() as client:
        codes = client.auth.totp_confirm(code)
    print("TOTP is on: logins now need a code from the app.")
    for number, recovery in enumerate(codes.recovery_codes, start=1):
        print(f"Recovery code {number}: {recovery}")
    cli.warn(RECOVERY_WARNING)


@app.command()
def disable(code_file: CodeFileOption = None) -> None:
    """Turn TOTP off, proven with a current code from the app."""
    code = prompts.read_code("TOTP code", file=code_file)
    with cli.api_errors(), cli.make_client() as client:
        client.auth.totp_disable(code)
    print("TOTP is off: logins need the password alone.")
