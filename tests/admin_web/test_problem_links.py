"""Every place validation can name maps to the admin page that edits that object."""

from admin_web.problem_links import place_links, problem_link
from dialplan.configuration import (Configuration, Handler, Line, Menu, MenuItem, Phone,
                                    Playlist, PlaylistItem, Queue, QueueKey)
from dialplan.messages import Message
from dialplan.validate import (handler_place, item_place, line_place, phone_place,
                               playlist_item_place, playlist_place, queue_key_place, queue_place,
                               TRANSFER_PLACE)

ITEM = MenuItem(10, 1, "90000", "tts", text="Здравствуйте",
                handlers=(Handler("key", "91000", key="1"), Handler("timeout", "", seconds=5)))
PLAYLIST = Playlist(7, "Ожидание", items=(PlaylistItem("tts", text="Ждите"),))
QUEUE = Queue(8, "Операторы", "92000", members=("203",), keys=(QueueKey("3", "93000"),))
CONFIG = Configuration(phones=(Phone(3, "203", "0" * 32),), lines=(Line(4, "prov1", "h1"),),
                       playlists=(PLAYLIST,), menus=(Menu(1, "Main"),), menu_items=(ITEM,),
                       queues=(QUEUE,))


def test_each_kind_of_place_links_to_its_form(app):
    with app.test_request_context("/"):
        links = place_links(CONFIG, {10: [55]})  # the item's first handler has id 55
        assert problem_link(links, phone_place("203")) == "/phones/3"
        assert problem_link(links, line_place("prov1")) == "/lines/4"
        assert problem_link(links, item_place(CONFIG, ITEM)) == "/menus/items/10"
        assert problem_link(links, handler_place(CONFIG, ITEM, 0)) == "/menus/handlers/55"
        # A handler whose id is not known links to its item.
        assert problem_link(links, handler_place(CONFIG, ITEM, 1)) == "/menus/items/10"
        assert problem_link(links, playlist_place(PLAYLIST)) == "/playlists/7"
        assert problem_link(links, playlist_item_place(PLAYLIST, 0)) == "/playlists/7"
        assert problem_link(links, queue_place(QUEUE)) == "/queues/8"
        assert problem_link(links, queue_key_place(QUEUE, "3")) == "/queues/8"
        assert problem_link(links, TRANSFER_PLACE) == "/transfer/"
        assert problem_link(links, Message("the fallback number (TELECENTER_FALLBACK_NUMBER)")) \
            is None
