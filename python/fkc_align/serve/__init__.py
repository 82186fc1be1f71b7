"""``fkc-align serve``: a person rates each round's particles in a browser; the loop learns.

Needs the ``[serve]`` extra (FastAPI, uvicorn); ``import fkc_align`` never imports this package.

* :class:`ServeSession` runs :func:`fkc_align.run_active` in a background thread with a
  :class:`PageOracle` (the loop writes each round's queries to the run folder and waits for
  their answers there) and answers the page from its own view of the same folder.
* :func:`make_app` is the FastAPI app (every request needs the access token);
  :func:`run_server` serves it with uvicorn (:class:`BackgroundServer`: from a thread, e.g. in a
  notebook).
* Ratings are 1 to 5 stars, stored as the reward ``stars - 3`` (:func:`rating_to_reward`).
"""

from .app import make_app, new_token
from .render import particle_png
from .server import BackgroundServer, bind, run_server
from .session import (
    RATINGS,
    AnswerError,
    PageOracle,
    ServeSession,
    ServeStopped,
    rating_to_reward,
    reward_to_rating,
)

__all__ = [
    "RATINGS", "AnswerError", "BackgroundServer", "PageOracle", "ServeSession", "ServeStopped",
    "bind", "make_app", "new_token", "particle_png", "rating_to_reward", "reward_to_rating",
    "run_server",
]
