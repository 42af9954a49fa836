from tests.engine.conftest import engine, shopper  # noqa: F401 - fixtures shared with the engine's tests
