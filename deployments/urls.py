"""UI routes of apps."""

urlpatterns: list = []
