import upbit_tui


def test_every_public_name_resolves() -> None:
    for name in upbit_tui.__all__:
        assert getattr(upbit_tui, name) is not None, name


def test_design_example_names_are_importable() -> None:
    from upbit_tui import GlobalWebSocketManager, WebSocketClientProxy, load_config

    assert callable(load_config)
    assert hasattr(WebSocketClientProxy, "subscribe_ticker")
    assert hasattr(GlobalWebSocketManager, "health_check")
