"""report.png and best.png say what kind of run they describe: a synthetic oracle's true reward
and hits, or a person's stars; best.png captions each particle with rank, score and round."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from fkc_align.loop import ActiveResult  # noqa: E402
from fkc_align.report import _title, best_figure, curves_figure  # noqa: E402
from fkc_align.tasks import Task, plot_images  # noqa: E402

SETTINGS = {"strategy": "fkc-explore", "budget": 8, "k": 4, "n_particles": 16}


def _rows(hits: bool) -> list[dict]:
    return [{"round": r, "queries_used": 4 * (r + 1), "mean_reward": -1.0 + r,
             "best_reward_so_far": 0.5 * r, "hit_rate": 0.25 * r if hits else None,
             "hit_rate_top": None} for r in range(2)]


def _result(hits: bool, n: int = 3) -> ActiveResult:
    return ActiveResult(rounds=_rows(hits), observed_x=torch.zeros(n, 1, 8, 8),
                        observed_r=torch.tensor([2.0, 1.0, -2.0])[:n],
                        observed_round=torch.tensor([1, 0, 1])[:n],
                        reward_model=torch.nn.Identity(), settings=dict(SETTINGS), summary={})


def _images_task(is_hit=None) -> Task:
    return Task(name="digits-liked", shape=(1, 8, 8), score_fn=lambda x, t: -x,
                oracle=lambda x: torch.zeros(len(x)), is_hit=is_hit,
                params={"liked": [3, 8]}, plot_particles=plot_images)


@pytest.fixture
def figures():
    made = []
    yield made
    for fig in made:
        plt.close(fig)


def test_a_synthetic_run_shows_true_reward_and_hits(figures):
    fig = curves_figure({"fkc-explore": _result(hits=True)}, oracle="synthetic")
    figures.append(fig)
    ax_r, ax_h = fig.axes
    assert ax_r.get_ylabel() == "true reward (synthetic oracle)" and ax_h.get_ylabel() == "hit rate"
    assert "fkc-explore (all shown)" in [t.get_text() for t in ax_h.get_legend().get_texts()]


def test_no_empty_hit_rate_panel_without_a_hit_test(figures):
    fig = curves_figure({"random": _result(hits=False)}, oracle="synthetic")
    figures.append(fig)
    assert len(fig.axes) == 1


def test_a_persons_run_shows_stars_and_no_synthetic_users_title(figures):
    fig = curves_figure({"fkc-explore": _result(hits=False)}, oracle="person")
    figures.append(fig)
    (ax,) = fig.axes
    assert ax.get_ylabel() == "stars (reward + 3)"
    assert list(ax.lines[0].get_ydata()) == [2.0, 3.0]  # mean reward -1, 0 as stars
    task, res = _images_task(), _result(hits=False)
    assert _title(task, res, "person") == ("digits-liked rated by a person: budget 8, k 4, "
                                           "N 16, fkc-explore")
    assert "liked=[3, 8]" in _title(task, res, "synthetic")


def test_best_png_captions_rank_score_and_round(figures):
    fig = best_figure(_images_task(), _result(hits=False), oracle="person")
    figures.append(fig)
    assert [ax.get_title() for ax in fig.axes] == [
        "#1 5 stars\nround 2", "#2 4 stars\nround 1", "#3 1 star\nround 2"]
    hit = _images_task(is_hit=lambda x: torch.tensor([True, False, True]))
    fig = best_figure(hit, _result(hits=True), oracle="synthetic")
    figures.append(fig)
    assert [ax.get_title() for ax in fig.axes] == [
        "#1 r 2.00 hit\nround 2", "#2 r 1.00\nround 1", "#3 r -2.00 hit\nround 2"]
    assert "rank, true reward, round (1 = cold start)" in fig._suptitle.get_text()
