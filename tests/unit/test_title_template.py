"""title_template: parsed once, rendered per scene; empty parts take their brackets and separators along."""

from __future__ import annotations

import pytest

from errors.kinds import ConfigError
from validation.settings import SETTINGS_PAGE, Settings, load_settings
from validation.title_template import PLACEHOLDERS, TitleTemplate

FULL = {"title": "Beach Day", "studio": "Sunset Films", "date": "2021-03-04", "year": "2021",
        "code": "SF-101", "performers": "Ann Lee, Bo Diaz", "director": "Jane Roe"}


def render(template: str, **values: str) -> str:
    return TitleTemplate(template).render(values)


@pytest.mark.parametrize("template, values, expected", [
    # the example, with every combination of missing parts
    ("{studio} - {title} ({date})", FULL, "Sunset Films - Beach Day (2021-03-04)"),
    ("{studio} - {title} ({date})", {"title": "T", "date": "2020-01-02"}, "T (2020-01-02)"),
    ("{studio} - {title} ({date})", {"title": "T", "studio": "S"}, "S - T"),
    ("{studio} - {title} ({date})", {"title": "T"}, "T"),
    # brackets enclosing placeholders go with them, square ones too, nested ones too
    ("{title} [{code}]", {"title": "T"}, "T"),
    ("{title} [{code}]", {"title": "T", "code": "X-1"}, "T [X-1]"),
    ("{title} ({studio}, {year})", {"title": "T", "year": "2021"}, "T (2021)"),
    ("{title} ({studio}, {year})", {"title": "T", "studio": "S"}, "T (S)"),
    ("{title} ({studio}, {year})", {"title": "T"}, "T"),
    ("{title} [{studio} ({year})]", {"title": "T", "year": "2021"}, "T [(2021)]"),
    ("{title} [{studio} ({year})]", {"title": "T"}, "T"),
    ("{title} ( {date} )", {"title": "T", "date": "2021-03-04"}, "T ( 2021-03-04 )"),
    # a separator survives only between two parts with text: the one before the next shown part
    ("{title} - {performers}, dir. {director}", {"title": "T", "director": "D"}, "T, dir. D"),
    ("{title} - {performers}, dir. {director}", {"title": "T", "performers": "P"}, "T - P"),
    ("{studio} - {performers} - {title}", {"title": "T"}, "T"),
    ("{studio}{title}", {"title": "T", "studio": "S"}, "ST"),
    # text before the first and after the last part stays while anything has text
    ("Scene: {studio} - {title} HD", {"title": "T"}, "Scene: T HD"),
    ("Scene: {studio}", {}, ""),
    # brackets around plain text, or unmatched, are plain text
    ("{title} (HD)", {"title": "T"}, "T (HD)"),
    ("{title} :) [{code}", {"title": "T"}, "T"),  # the unmatched "[" is part of the separator
    ("{title}) ({code}", {"title": "T", "code": "C"}, "T) (C"),
    ("({title}]", {"title": "T"}, "(T]"),
    # literal braces, spacing and case of names
    ("{{{title}}}", {"title": "T"}, "{T}"),
    ("{ Title } - {STUDIO}", {"title": "T", "studio": "S"}, "T - S"),
    ("{title}   -   {studio}", {"title": "T", "studio": "S"}, "T - S"),
    # values are inserted as they are: their own brackets and braces are text
    ("{studio} - {title}", {"title": "(T) {x}", "studio": "[S]"}, "[S] - (T) {x}"),
    # a value of only spaces is empty
    ("{studio} - {title}", {"title": "T", "studio": "  "}, "T"),
    ("", FULL, ""),
    ("Just text", FULL, ""),  # no placeholder: nothing has text, the caller keeps the plain title
])
def test_render(template, values, expected):
    assert TitleTemplate(template).render(values) == expected


@pytest.mark.parametrize("template, words", [
    ("{studio} - {titel}", ["unknown placeholder {titel}", "{title}", "{director}"]),
    ("{title} {Performer}", ["unknown placeholder {Performer}"]),
    ("{title", ["'{' at position 1 that is never closed", "write {{ for a literal brace"]),
    ("{ti{tle}", ["'{' at position 1 that is never closed"]),
    ("{title}}", ["'}' at position 8 without its '{'", "write }} for a literal brace"]),
    ("} {title}", ["'}' at position 1 without its '{'"]),
    ("{} {title}", ["empty placeholder {}"]),
])
def test_bad_templates_name_the_problem(template, words):
    with pytest.raises(ValueError) as caught:
        TitleTemplate(template)
    message = str(caught.value)
    assert message.startswith("title_template ")
    assert "\n" not in message
    for word in words:
        assert word in message, (word, message)


def test_every_placeholder_is_known_and_listed_once():
    assert PLACEHOLDERS == ("title", "studio", "date", "year", "code", "performers", "director")
    template = TitleTemplate(" ".join("{%s}" % name for name in PLACEHOLDERS))
    assert template.names == frozenset(PLACEHOLDERS)
    assert template.render(FULL) == "Beach Day Sunset Films 2021-03-04 2021 SF-101 Ann Lee, Bo Diaz Jane Roe"


def test_a_template_is_its_text_and_cannot_change():
    template = TitleTemplate("{title} ({date})")
    assert template == "{title} ({date})" and isinstance(template, str)
    assert repr(template) == "TitleTemplate('{title} ({date})')"
    with pytest.raises(AttributeError):
        template.nodes = ()  # type: ignore[misc]
    assert not TitleTemplate() and TitleTemplate().render(FULL) == ""


def test_the_setting_is_parsed_once_into_a_template():
    settings = Settings(title_template=" {studio} - {title} ")
    assert isinstance(settings.title_template, TitleTemplate)
    assert settings.title_template == "{studio} - {title}"
    assert settings.title_template.render({"title": "T"}) == "T"
    assert isinstance(Settings().title_template, TitleTemplate) and Settings().title_template == ""


def test_a_bad_template_stops_with_the_fix_instead_of_falling_back():
    with pytest.raises(ConfigError) as caught:
        load_settings({"plex_url": "http://127.0.0.1:32400", "title_template": "{studio} - {titel}"})
    message = str(caught.value)
    assert message.startswith("Setting title_template is invalid: title_template has an unknown placeholder {titel}")
    assert message.endswith(f"Fix it on {SETTINGS_PAGE}.") and "\n" not in message
