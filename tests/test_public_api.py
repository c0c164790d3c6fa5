import upbit_tui


def test_every_public_name_resolves() -> None:
    for name in upbit_tui.__all__:
        assert getattr(upbit_tui, name) is not None, name


def test_design_example_names_are_importable() -> None:
    from upbit_tui import GlobalWebSocketManager, WebSocketClientProxy, load_config

    assert callable(load_config)
    assert hasattr(WebSocketClientProxy, "subscribe_ticker")
    assert hasattr(GlobalWebSocketManager, "health_check")


def test_errors_the_api_raises_are_exported() -> None:
    from upbit_tui import SymbolError
    from upbit_tui.wire.symbols import normalize_symbol

    try:
        normalize_symbol("BTC")
    except SymbolError as exc:
        assert isinstance(exc, ValueError)
    else:
        raise AssertionError("normalize_symbol('BTC') should raise SymbolError")
    assert "SymbolError" in upbit_tui.__all__
