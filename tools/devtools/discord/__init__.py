"""The fake Discord (:mod:`devtools.discord.fake`) and the Discord bench driver."""
