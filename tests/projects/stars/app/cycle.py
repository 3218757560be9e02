from .more import *
from .helpers import *
