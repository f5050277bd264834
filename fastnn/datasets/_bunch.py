"""A dict whose keys are also attributes, as scikit-learn's data sets return them."""


class Bunch(dict):
    """A dict whose keys read and write as attributes.

    >>> b = Bunch(data=[1, 2], target=[0, 1])
    >>> b.data is b["data"]
    True
    """

    def __init__(self, **kwargs):
        super().__init__(kwargs)

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key, value):
        self[key] = value

    def __dir__(self):
        return list(self.keys())
