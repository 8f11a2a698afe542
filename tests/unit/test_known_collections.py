"""KnownCollections: a library's collections are listed in full once, new titles looked up one by one."""

from plex.collections import ONE_BY_ONE, KnownCollections


class _Collection:
    def __init__(self, title):
        self.title = title


class _Section:
    """A library whose collections() answers as Plex does: all of them, or `title=` (contains, any case)."""

    key = 1

    def __init__(self, titles):
        self.titles = list(titles)
        self.asked = []

    def collections(self, title=None):
        self.asked.append(title)
        return [_Collection(t) for t in self.titles if title is None or title.lower() in t.lower()]


def test_one_listing_then_new_titles_by_title():
    section = _Section(["Harbour", "Harbour Nights", "Tide"])
    known = KnownCollections()
    assert set(known.find(section, ["Harbour", "tide"])) == {"harbour", "tide"}
    assert section.asked == [None]
    section.titles.append("Late Arrival")
    found = known.find(section, ["Harbour Nights", "Late Arrival", "Not There"])
    assert set(found) == {"harbour nights", "late arrival"}
    assert found["late arrival"].title == "Late Arrival"
    assert section.asked == [None, "Late Arrival", "Not There"]  # "Harbour Nights" was listed already


def test_many_new_titles_at_once_cost_one_listing():
    section = _Section(["A"])
    known = KnownCollections()
    known.find(section, ["A"])
    new = ["New %d" % i for i in range(ONE_BY_ONE + 1)]
    section.titles += new
    assert len(known.find(section, new)) == len(new)
    assert section.asked == [None, None]


def test_a_forgotten_library_is_listed_again():
    section = _Section(["Gone Soon"])
    known = KnownCollections()
    known.find(section, ["Gone Soon"])
    section.titles = []
    known.forget(section.key)
    assert known.find(section, ["Gone Soon"]) == {}
    assert section.asked == [None, None]
