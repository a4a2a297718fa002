"""Notifications: what users are told about their wallets and requests."""
from peewee import ModelSelect

from errors import NotificationNotFound, ValidationError
from models import Notification, User


def of_user(user: User, *, unread: str | None = None) -> ModelSelect:
    """The user's notifications, all or (`unread=true`) only the unread ones."""
    query = Notification.select().where(Notification.user == user)
    if unread is None:
        return query
    if unread not in ("true", "false"):
        raise ValidationError("unread must be true or false",
                              errors=[{"field": "unread", "message": "must be true or false"}])
    return query.where(Notification.is_read == (unread == "false"))


def index_for(unread: str | None) -> str:
    """The index that serves the list: (user, is_read, id) when filtered, else (user, id)."""
    return "notifications_user_id" if unread is None else "notifications_user_read"


def mark_read(user: User, notification_id: int) -> None:
    """Mark one of the user's notifications read (repeating it is harmless).

    Raises:
      NotificationNotFound: also for someone else's notification.
    """
    mine = Notification.select(Notification.id).where(
        (Notification.id == notification_id) & (Notification.user == user))
    if not mine.exists():
        raise NotificationNotFound(f"No notification {notification_id}.")
    Notification.update(is_read=True).where(Notification.id == notification_id).execute()
