# (empty until its component lands)
