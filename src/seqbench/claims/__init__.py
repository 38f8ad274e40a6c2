"""The claims lab: the textbook claims about RNN, LSTM, GRU and Transformers, each measured on
generated long-memory problems and given a verdict computed from the numbers."""
