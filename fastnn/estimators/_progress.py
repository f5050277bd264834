"""What verbose=True shows: a tqdm progress bar over epochs when tqdm is installed, else one
line per epoch (loss, validation score, time)."""
import sys

try:
    from tqdm.auto import tqdm
except ImportError:
    tqdm = None


class EpochReporter:
    def __init__(self, verbose, max_epochs, name):
        self.verbose = bool(verbose)
        self.bar = tqdm(total=max_epochs, desc=name, unit="epoch") if self.verbose and tqdm else None

    def epoch(self, n_iter, loss, validation_score, seconds):
        if not self.verbose:
            return
        if self.bar is not None:
            postfix = {"loss": f"{loss:.5g}"}
            if validation_score is not None:
                postfix["val"] = f"{validation_score:.4f}"
            self.bar.set_postfix(postfix, refresh=False)
            self.bar.update(1)
            return
        line = f"Iteration {n_iter}, loss = {loss:.8f}"
        if validation_score is not None:
            line += f", validation score = {validation_score:.6f}"
        print(line + f", time = {seconds:.3f}s", file=sys.stdout)

    def message(self, text):
        if not self.verbose:
            return
        if self.bar is not None:
            self.bar.write(text)
        else:
            print(text, file=sys.stdout)

    def close(self):
        if self.bar is not None:
            self.bar.close()
