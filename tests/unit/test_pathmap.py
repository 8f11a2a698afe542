"""Path mapping and the index key, as a table of real-world layouts."""

from __future__ import annotations

import pytest

from validation.pathmap import PathMap as PathMapper, is_windows_path, map_path, parent_folder, parse_path_map, path_key


@pytest.mark.parametrize(
    "rules, stash_path, plex_path",
    [
        # No rules: same machine, same paths.
        ("", "/data/videos/a.mp4", "/data/videos/a.mp4"),
        # Docker: Stash sees /data, Plex sees /media.
        ("/data => /media", "/data/videos/a.mp4", "/media/videos/a.mp4"),
        ("/data/ => /media/", "/data/videos/a.mp4", "/media/videos/a.mp4"),
        # Whole components only: /data must not rewrite /database.
        ("/data => /media", "/database/a.mp4", "/database/a.mp4"),
        # Longest prefix wins whatever the order of the rules.
        ("/data => /media; /data/private => /vault", "/data/private/x.mkv", "/vault/x.mkv"),
        ("/data/private => /vault; /data => /media", "/data/public/x.mkv", "/media/public/x.mkv"),
        # Windows Stash onto a Linux Plex: separators flip, case of the prefix ignored.
        (r"C:\Videos => /mnt/videos", r"C:\Videos\Sub\A.mp4", "/mnt/videos/Sub/A.mp4"),
        (r"C:\Videos => /mnt/videos", r"c:\videos\Sub\A.mp4", "/mnt/videos/Sub/A.mp4"),
        (r"C:\Videos => /mnt/videos", "C:/Videos/Sub/A.mp4", "/mnt/videos/Sub/A.mp4"),
        # UNC share onto a Linux mount.
        (r"\\nas\share => /mnt/nas", r"\\NAS\Share\clips\b.mkv", "/mnt/nas/clips/b.mkv"),
        # And back: a Linux Stash onto a Windows Plex.
        (r"/mnt/media => D:\Media", "/mnt/media/x/y.mp4", r"D:\Media\x\y.mp4"),
        (r"/mnt/media => \\nas\media", "/mnt/media/x/y.mp4", r"\\nas\media\x\y.mp4"),
        # POSIX paths are case-sensitive: no match.
        ("/Data => /media", "/data/a.mp4", "/data/a.mp4"),
        # A drive root.
        (r"E:\ => /e", r"E:\clips\a.mp4", "/e/clips/a.mp4"),
        # Newlines separate rules too.
        ("/a => /x\n/b => /y", "/b/c.mp4", "/y/c.mp4"),
    ],
)
def test_map_path(rules, stash_path, plex_path):
    assert map_path(stash_path, parse_path_map(rules)) == plex_path


def test_same_name_in_different_folders_keeps_distinct_keys():
    rules = parse_path_map("/data => /media")
    a = path_key(map_path("/data/one/scene.mp4", rules))
    b = path_key(map_path("/data/two/scene.mp4", rules))
    assert a != b
    assert a == path_key("/media/one/scene.mp4")


@pytest.mark.parametrize(
    "one, other",
    [
        (r"C:\Videos\A.mp4", "c:/videos/a.mp4"),  # Windows: case and separators
        (r"\\nas\share\A.mp4", "//NAS/share/a.mp4"),  # UNC
        ("/media/Cafe\u0301.mp4", "/media/Caf\u00e9.mp4"),  # NFD from macOS vs NFC
        ("/media//x/a.mp4", "/media/x/a.mp4"),
    ],
)
def test_path_key_equal(one, other):
    assert path_key(one) == path_key(other)


def test_path_key_posix_is_case_sensitive():
    assert path_key("/media/A.mp4") != path_key("/media/a.mp4")


@pytest.mark.parametrize(
    "text, message",
    [
        ("/data -> /media", "=>"),
        ("/data => ", "empty side"),
        ("=> /media", "empty side"),
        ("/a => /b => /c", "=>"),
        ("/a => /b; /a/ => /c", "twice"),
    ],
)
def test_bad_rules_name_the_problem(text, message):
    with pytest.raises(ValueError, match=message):
        parse_path_map(text)


def test_mapper_round_trip():
    mapper = PathMapper(r"C:\Videos => /mnt/videos")
    plex = mapper.to_plex(r"C:\Videos\x\a.mp4")
    assert plex == "/mnt/videos/x/a.mp4"
    assert mapper.to_stash(plex) == r"C:\Videos\x\a.mp4"


@pytest.mark.parametrize(
    "path, folder",
    [("/media/x/a.mp4", "/media/x"), (r"D:\Media\a.mp4", r"D:\Media"), (r"D:\a.mp4", "D:\\"), ("/a.mp4", "/")],
)
def test_parent_folder(path, folder):
    assert parent_folder(path) == folder


def test_windows_detection():
    assert is_windows_path(r"C:\x") and is_windows_path(r"\\nas\x") and not is_windows_path("/x")
