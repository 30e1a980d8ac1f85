"""The lab: train small recurrent nets on synthetic long-term tasks and report against the chance baseline."""
