"""The guest-flow world, shared with the statistics tests."""

from tests.flow.conftest import world  # noqa: F401  # the fixture, reused as it is
