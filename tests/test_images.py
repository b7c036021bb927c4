from chaton.harness import images


def test_image_tags_follow_the_recipe(monkeypatch):
    tag = images.image_tag("12")
    assert tag.startswith("chaton-test/debian:12-")
    assert images.image_tag("12") == tag
    monkeypatch.setattr(images, "PACKAGES", [*images.PACKAGES, "vim"])
    assert images.image_tag("12") != tag


def test_both_releases_are_known():
    assert images.RELEASES["12"].codename == "bookworm"
    assert images.RELEASES["13"].codename == "trixie"
