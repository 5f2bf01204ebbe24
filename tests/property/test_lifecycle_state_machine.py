"""A hypothesis state machine over the lifecycle verbs, checked against the tables (issue 3).

Any sequence of verbs (and the scheduler's destruction) moves the key exactly as the
transition table says, and after every step the key encrypts and decrypts exactly as the
state-by-operation table says.
"""

from __future__ import annotations

import base64
import shutil
import tempfile
from pathlib import Path

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from starlette.testclient import TestClient

from keystead.api.app import create_app
from keystead.config import load_settings
from keystead.domain.lifecycle import ALLOWED_TRANSITIONS, KeyState
from keystead.domain.operations import DESTROYED_STATES, PERMITTED_OPERATIONS, KeyOperation

S = KeyState
TARGETS = {
    "activate": S.ACTIVE, "suspend": S.SUSPENDED, "resume": S.ACTIVE,
    "deactivate": S.DEACTIVATED, "revoke": S.COMPROMISED,
    "schedule-destruction": S.DESTROY_PENDING,
}  # fmt: skip
ONLY_FROM = {"activate": S.PRE_ACTIVE, "resume": S.SUSPENDED}
BODIES = {"revoke": {"reason": "KEY_COMPROMISE"}, "schedule-destruction": {"pending_days": 1}}
PLAINTEXT = base64.b64encode(b"state machine").decode()


class Lifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="keystead-sm-"))
        data_dir = self.tmp / "data"
        self.client = TestClient(
            create_app(load_settings(data_dir=data_dir, insecure_http=True)),
            base_url="https://t",
        )
        self.client.__enter__()
        init = self.client.post("/v1/sys/init", json={"shares": 1, "threshold": 1}).json()
        self.client.post("/v1/sys/unseal", json={"share": init["shares"][0]})
        self.auth = {"authorization": f"Bearer {init['root_token']}"}
        self.client.post("/v1/keys", json={"name": "m", "spec": "AES_256_GCM"}, headers=self.auth)
        made = self.post("/v1/keys/m/encrypt", {"plaintext": PLAINTEXT})
        self.ciphertext = made.json()["ciphertext"]
        self.state, self.before_destruction = S.ACTIVE, None

    def post(self, path: str, body: dict | None = None):
        return self.client.post(path, json=body or {}, headers=self.auth)

    def teardown(self) -> None:
        self.client.__exit__(None, None, None)
        shutil.rmtree(self.tmp, ignore_errors=True)

    @rule(verb=st.sampled_from(sorted(TARGETS)))
    def apply_verb(self, verb: str) -> None:
        target = TARGETS[verb]
        allowed = target in ALLOWED_TRANSITIONS[self.state] and (
            verb not in ONLY_FROM or self.state is ONLY_FROM[verb]
        )
        response = self.post(f"/v1/keys/m/{verb}", BODIES.get(verb))
        if allowed:
            assert response.status_code == 200, response.text
            if target is S.DESTROY_PENDING:
                self.before_destruction = self.state
            self.state = target
        else:
            assert response.json()["code"] == "InvalidStateTransition", response.text

    @rule()
    def cancel_destruction(self) -> None:
        response = self.post("/v1/keys/m/cancel-destruction")
        if self.state is S.DESTROY_PENDING:
            assert response.status_code == 200
            assert self.before_destruction is not None
            self.state, self.before_destruction = self.before_destruction, None
        else:
            assert response.json()["code"] == "InvalidStateTransition"

    @rule()
    def destruction_comes_due(self) -> None:
        services = self.client.app.state.services  # type: ignore[attr-defined]
        if self.state is not S.DESTROY_PENDING:
            return
        self.client.portal.call(services.lifecycle.destroy, "m")  # type: ignore[union-attr]
        compromised = self.before_destruction is S.COMPROMISED
        self.state = S.DESTROYED_COMPROMISED if compromised else S.DESTROYED

    @invariant()
    def state_and_operations_follow_the_tables(self) -> None:
        described = self.client.get("/v1/keys/m", headers=self.auth).json()
        assert described["state"] == self.state
        for operation, path, body in (
            (KeyOperation.ENCRYPT, "/v1/keys/m/encrypt", {"plaintext": PLAINTEXT}),
            (KeyOperation.DECRYPT, "/v1/decrypt", {"ciphertext": self.ciphertext}),
        ):
            response = self.post(path, body)
            if operation in PERMITTED_OPERATIONS[self.state]:
                assert response.status_code == 200, (self.state, operation, response.text)
            else:
                expected = (
                    "KeyDestroyed" if self.state in DESTROYED_STATES
                    else "KeyStateForbidsOperation"
                )  # fmt: skip
                assert response.json()["code"] == expected


Lifecycle.TestCase.settings = settings(
    max_examples=25, stateful_step_count=12, deadline=None,
    suppress_health_check=list(HealthCheck),
)  # fmt: skip
TestLifecycle = Lifecycle.TestCase
