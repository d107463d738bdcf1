"""The resources of Parseq on Yandex Cloud, as functions the program and its tests call."""
