"""Imports every model module so their ``@register`` decorators run (order = menu order)."""

# Deliberately not sorted: the order here is the order of the model menus.
from . import fast  # noqa: F401, I001
from . import cifar_resnet  # noqa: F401
from . import resnet  # noqa: F401
from . import densenet  # noqa: F401
from . import googlenet  # noqa: F401
from . import classic  # noqa: F401
from . import small  # noqa: F401
