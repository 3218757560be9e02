from .leaf import *
