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


def test_warm_image_follows_the_bare_one_and_its_packages(monkeypatch):
    tag = images.warm_tag("13")
    assert tag.startswith("chaton-test/debian-warm:13-")
    monkeypatch.setattr(images, "WARM_PACKAGES", [*images.WARM_PACKAGES, "vim"])
    assert images.warm_tag("13") != tag
    monkeypatch.setattr(images, "PACKAGES", [*images.PACKAGES, "vim"])
    assert images.warm_tag("13") != tag


def test_warm_image_installs_with_the_sources_of_a_converged_host():
    script = images._warm_script(images.RELEASES["13"])
    for line in ("debian trixie main", "debian trixie-updates main", "debian-security trixie-security main"):
        assert f"deb http://deb.debian.org/{line}\\n" in script
    # Back to the bare image's one source: role common writes its own.
    assert script.index("apt-get install") < script.index("mv /etc/apt/sources.list.bare /etc/apt/sources.list")
