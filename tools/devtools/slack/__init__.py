"""The fake Slack (:mod:`devtools.slack.fake`) and the Slack bench driver."""
