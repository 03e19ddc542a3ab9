"""Query suggestions: completions of what is being typed, from the index's own phrases (titles,
tags) and from what people searched (the search log)."""
