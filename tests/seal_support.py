"""One driver per seal, so a conformance suite runs unchanged against Shamir and pkcs11 (C27).

The Shamir seal makes unseal shares and stays sealed after init; the pkcs11 seal makes
recovery shares and unseals itself. The driver hides that difference and nothing else.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass
from pathlib import Path

from starlette.testclient import TestClient

from hsm_support import SoftHSM, pkcs11_settings, unsealed, wait_for_seal
from keystead.config import Settings, load_settings
from keystead.seal import shamir
from keystead.services.container import Services
from keystead.services.system import InitResult


@dataclass(frozen=True)
class Init:
    """What init answered: the operators' shares (unseal or recovery) and the root token."""

    shares: list[str]
    root_token: str
    threshold: int

    @property
    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.root_token}"}

    @property
    def quorum(self) -> list[str]:
        return self.shares[: self.threshold]


@dataclass(frozen=True)
class SealUnderTest:
    """The seal a conformance test runs against."""

    kind: str
    hsm: SoftHSM | None = None

    def __repr__(self) -> str:
        return f"SealUnderTest({self.kind})"

    @property
    def secrets(self) -> dict[str, bytes]:
        """Secrets of the seal's own configuration, which storage must never hold."""
        return {} if self.hsm is None else {"pkcs11 PIN": self.hsm.pin.encode()}

    def settings(self, data_dir: Path, **options: object) -> Settings:
        extra = {} if self.hsm is None else pkcs11_settings(self.hsm)
        return load_settings(data_dir=data_dir, insecure_http=True, **extra, **options)

    def init(self, client: TestClient, shares: int = 3, threshold: int = 2) -> Init:
        """Initialise through the API and leave the server unsealed."""
        fields = ("shares", "threshold") if self.hsm is None else (
            "recovery_shares", "recovery_threshold",
        )  # fmt: skip
        response = client.post(
            "/v1/sys/init", json=dict(zip(fields, (shares, threshold), strict=True))
        )
        assert response.status_code == 200, response.text
        body = response.json()
        init = Init(body[fields[0]], body["root_token"], threshold)
        if self.hsm is None:
            self.give(client, init.quorum)
        assert client.get("/v1/sys/seal-status").json()["sealed"] is False
        return init

    def unseal_after_start(self, client: TestClient, init: Init) -> None:
        """Unseal a server just started on an initialised database."""
        if self.hsm is None:
            self.give(client, init.quorum)
        else:
            wait_for_seal(client, unsealed)

    def unseal_after_seal(self, client: TestClient, init: Init) -> None:
        """Unseal after an operator sealed: the quorum, unseal or recovery shares."""
        self.give(client, init.quorum)
        assert client.get("/v1/sys/seal-status").json()["sealed"] is False

    @staticmethod
    def give(client: TestClient, shares: list[str]) -> dict:
        body: dict = {}
        for share in shares:
            response = client.post("/v1/sys/unseal", json={"share": share})
            assert response.status_code == 200, response.text
            body = response.json()
        return body

    @staticmethod
    def quorum_secret(init: Init) -> bytes:
        """What the quorum rebuilds: the Shamir root key, or the pkcs11 recovery key."""
        return shamir.combine([base64.b64decode(share) for share in init.quorum])

    async def init_services(
        self, services: Services, shares: int = 3, threshold: int = 2
    ) -> InitResult:
        """Initialise through the services and leave them unsealed."""
        result = await services.system.initialize(shares, threshold)
        if self.hsm is None:
            for share in result.shares[:threshold]:
                await services.system.unseal(share)
        assert (await services.system.status()).sealed is False
        return result

    @staticmethod
    async def unseal_services_after_seal(services: Services, result: InitResult) -> None:
        """Unseal services an operator sealed: a quorum of the shares init made."""
        threshold = (await services.system.status()).threshold
        for share in reversed(result.shares[-threshold:]):
            await services.system.unseal(share)
        assert (await services.system.status()).sealed is False

    async def unseal_services_after_start(self, services: Services, result: InitResult) -> None:
        """Unseal services just built on an initialised database."""
        if self.hsm is None:
            await self.unseal_services_after_seal(services, result)
            return
        for _ in range(300):  # the pkcs11 seal unseals by itself, in the background
            if not (await services.system.status()).sealed:
                return
            await asyncio.sleep(0.05)
        msg = f"the pkcs11 seal did not unseal: {await services.system.status()}"
        raise AssertionError(msg)
