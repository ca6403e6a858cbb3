"""The main window (:class:`MainWindow`) and its rooms.

* :mod:`.window`: the window itself: tabs, connection selection, engine commands and state;
* :mod:`.chrome`: actions, menus, the connection toolbar, the status bar, the banner, About;
* :mod:`.feed`: what the tabs show of the connection on screen (its history, its engine's events);
* :mod:`.layout`: the layout remembered in ``<config dir>/window.ini``.
"""
from .chrome import TAB_NAMES, Banner
from .feed import ACTIVE_STATES
from .layout import DEFAULT_SIZE, UI_SETTINGS_FILE
from .window import MainWindow

__all__ = ["ACTIVE_STATES", "DEFAULT_SIZE", "TAB_NAMES", "UI_SETTINGS_FILE", "Banner", "MainWindow"]
