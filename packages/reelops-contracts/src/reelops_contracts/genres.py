"""The MovieLens genres: what a movie may list and a request may filter on."""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["GENRES", "Genre"]

#: A MovieLens genre (``movies.csv`` lists them ``|``-separated).
Genre = Literal[
    "Action",
    "Adventure",
    "Animation",
    "Children",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "IMAX",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
    "(no genres listed)",
]
#: Every genre, in the order above (a genre's bit in serving's genre masks).
GENRES: tuple[str, ...] = get_args(Genre)
