"""Reading what students hand in: answers files, spreadsheets, filled PDF forms."""
